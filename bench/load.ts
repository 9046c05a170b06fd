// `npm run load -- [options]`: the load generator. Starts a run of its own (the lab's
// order-processor on port 7001, its sidecar, and a sidecar-only `checkout` app whose
// "app" is this tool), publishes the orders through DaprClient, follows them to the
// handler, and prints what arrived, how fast, and what it cost each process.
// Options: bench/lib/args.ts (LOAD_USAGE), or `npm run load -- --help`.
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { parseLoadArgs, LOAD_USAGE, UsageError, type LoadArgs } from './lib/args.ts'
import { DeliveryLog } from './lib/deliveries.ts'
import { endProgress, measure, progressPrinter } from './lib/measure.ts'
import { paddingFor } from './lib/order.ts'
import { daprClient, daprSender } from './lib/publish.ts'
import { cleanupTopic, connect, redisPid } from './lib/redis.ts'
import { formatLoadReport, verdict } from './lib/report.ts'
import { BENCH_DIR, DaprRun } from './lib/run.ts'

let args: LoadArgs
try {
  args = parseLoadArgs(process.argv.slice(2))
} catch (err) {
  if (!(err instanceof UsageError)) throw err
  process.stderr.write(`load: ${err.message}\n\n${err.usage}\n`)
  process.exit(2)
}
if (args.help) {
  process.stdout.write(`${LOAD_USAGE}\n`)
  process.exit(0)
}

const say = (line: string) => process.stderr.write(`[load] ${line}\n`)
// Orders sent first and left out of the figures: connections, JIT and the consumer
// group settle in, as in every scenario of the bench.
const WARMUP = 200
const topic = `bench-${randomUUID().slice(0, 8)}`
const stop = new AbortController()
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => { say('stopping...'); stop.abort() })

const redis = connect()
const run = new DaprRun({
  topic,
  subscriber: args.bulkSubscribe ? 'bulk' : 'order-processor',
  instances: args.instances,
  // A batch holds at most as many orders as the component has workers (see bulk-subscriber.ts).
  tuning: args.bulkSubscribe
    ? { concurrency: Math.max(args.redisConcurrency, args.bulkMax), queueDepth: Math.max(args.redisQueueDepth, args.bulkMax) }
    : { concurrency: args.redisConcurrency, queueDepth: args.redisQueueDepth },
  tracing: args.tracing,
  profileDir: args.profile ? join(BENCH_DIR, 'profiles') : undefined,
  env: args.bulkSubscribe ? { BULK_MAX_MESSAGES: String(args.bulkMax), BULK_MAX_AWAIT_MS: String(args.bulkAwaitMs) } : undefined
})
let exitCode = 1
try {
  const pid = await redisPid(redis)
  say(`starting the run: ${args.instances} order-processor(s) from port 7001 and their sidecars, a sidecar for the publisher (topic ${topic})`)
  await run.start()
  const publisher = daprClient(args.protocol, run.publisherSidecar)
  await publisher.start()
  const send = daprSender(publisher, topic)
  const deliveries = new DeliveryLog(run.appLogDir)
  const padding = paddingFor(args.payload)
  const plan = { rate: args.rate, concurrency: args.concurrency, batch: args.bulk, padding }
  const processes = [{ pid: process.pid, name: 'publisher (this tool)' }, ...(await run.processes()), ...(pid ? [{ pid, name: 'redis-server' }] : [])]

  say(`warm-up: ${WARMUP} orders (not counted)`)
  await measure(send, { ...plan, rate: 0, firstId: 1, count: WARMUP }, deliveries, { idleMs: 10_000, processes: [], signal: stop.signal })
  const m = await measure(send, { ...plan, firstId: WARMUP + 1, count: args.count }, deliveries, {
    idleMs: 10_000,
    processes,
    onProgress: progressPrinter('[load]', args.count),
    signal: stop.signal
  })
  endProgress()
  await publisher.stop()
  process.stdout.write(`\n${formatLoadReport({ ...args, topic }, m)}\n`)
  exitCode = verdict(m).ok && !stop.signal.aborted ? 0 : 1
} catch (err) {
  endProgress()
  say(`failed: ${(err as Error).message}`)
} finally {
  await run.stop({ keepFiles: args.keep || exitCode !== 0 })
  if (args.keep || exitCode !== 0) say(`run files kept in ${run.dir}`)
  if (args.profile) say(`CPU profiles of the subscribers: ${join(BENCH_DIR, 'profiles')}`)
  await cleanupTopic(redis, topic).catch(() => {})
  redis.disconnect()
}
process.exit(exitCode)
