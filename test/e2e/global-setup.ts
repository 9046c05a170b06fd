// The end-to-end tests need what `npm test` provisions first (lab/commands/test.ts): a Dapr
// runtime and a Redis. Say so plainly instead of failing later with a timeout.
import { findDaprRuntime } from '../../lab/services/dapr-runtime.ts'
import { redis } from '../../lab/services/redis.ts'

export default async function setup (): Promise<void> {
  const missing = []
  if (!findDaprRuntime()) missing.push('no Dapr runtime (daprd)')
  if (!(await redis.ping())) missing.push(`no Redis on 127.0.0.1:${redis.port}`)
  if (missing.length > 0) {
    throw new Error(`End-to-end tests cannot run: ${missing.join(', ')}. Run them with \`npm test\`, which sets these up.`)
  }
}
