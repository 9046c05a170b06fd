// `npm run lab:crash [-- SECONDS]` (LAB.md, exercise 5): kills the running order-processor
// with SIGKILL, as a crash would, keeps it down for SECONDS (5 by default) while the
// checkout goes on publishing, then starts it again exactly as it was (same command,
// environment and folder), as Kubernetes would restart a crashed container. The restarted
// process prints here and to subscriber/.dapr/logs/order-processor-restarted_app_<time>.log;
// it stops when the run's sidecar for it does (Ctrl+C on npm start) or on Ctrl+C here.
import { spawn } from 'node:child_process'
import { createWriteStream, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { findImages } from './processes.ts'

const REPO = join(import.meta.dirname, '..')
const SUBSCRIBER = join(REPO, 'subscriber')
const seconds = Number(process.argv[2] ?? 5)
if (!Number.isFinite(seconds) || seconds < 0) {
  console.error('usage: npm run lab:crash [-- SECONDS]   (how long the order-processor stays down; default 5)')
  process.exit(2)
}

const isOrderProcessor = (argv: string[], cwd: string) => cwd === SUBSCRIBER && argv.some((a) => a.endsWith('src/server.ts'))
const apps = findImages((p) => isOrderProcessor(p.argv, p.cwd))
if (apps.length !== 1) {
  console.error(apps.length === 0
    ? 'No order-processor is running. Start the lab first (`npm start`), then run this while it publishes.'
    : `${apps.length} order-processors are running (pids ${apps.map((a) => a.pid).join(', ')}); this exercise wants one: \`npm run stop\`, then \`npm start\`.`)
  process.exit(1)
}
const app = apps[0]!
const sidecarAlive = () => findImages((p) => p.argv.some((a) => a.endsWith('/daprd')) && p.argv.includes(String(app.env.APP_ID ?? 'order-processor')) && p.cwd === SUBSCRIBER).length > 0

process.kill(app.pid, 'SIGKILL')
console.log(`Killed the order-processor (pid ${app.pid}) with SIGKILL. Its sidecar stops delivering once its health check fails; the orders wait in the broker.`)
await sleep(seconds * 1000)

const logs = join(SUBSCRIBER, '.dapr', 'logs')
mkdirSync(logs, { recursive: true })
const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)
const logPath = join(logs, `order-processor-restarted_app_${stamp}.log`)
const log = createWriteStream(logPath)
const child = spawn(app.argv[0]!, app.argv.slice(1), { cwd: app.cwd, env: app.env, stdio: ['ignore', 'pipe', 'pipe'] })
for (const stream of [child.stdout, child.stderr]) {
  stream.on('data', (chunk: Buffer) => { process.stdout.write(chunk); log.write(chunk) })
}
console.log(`Started it again (pid ${child.pid}) after ${seconds} s; its log: ${logPath}`)

// Lives as long as the run: when the sidecar is gone (Ctrl+C on npm start), so is this.
const stop = () => { if (child.exitCode === null) child.kill('SIGTERM') }
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, stop)
const watch = setInterval(() => { if (!sidecarAlive()) stop() }, 500)
child.on('close', (code) => {
  clearInterval(watch)
  log.end()
  process.exitCode = code === 0 || code === null ? 0 : code
})
