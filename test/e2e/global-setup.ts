// The end-to-end tests need what `npm test` provisions first (lab/commands/test.ts): a Dapr
// runtime and a Redis. Say so plainly instead of failing later with a timeout.
import { existsSync } from 'node:fs'
import { createConnection } from 'node:net'
import { homedir } from 'node:os'
import { join } from 'node:path'

function answers (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => { socket.destroy(); resolve(true) })
    socket.once('error', () => resolve(false))
  })
}

export default async function setup (): Promise<void> {
  const daprd = join(process.env.DAPR_RUNTIME_PATH || homedir(), '.dapr', 'bin', 'daprd')
  const missing = []
  if (!existsSync(daprd)) missing.push(`no daprd at ${daprd}`)
  if (!(await answers(6379))) missing.push('no Redis on 127.0.0.1:6379')
  if (missing.length > 0) {
    throw new Error(`End-to-end tests cannot run: ${missing.join(', ')}. Run them with \`npm test\`, which sets these up.`)
  }
}
