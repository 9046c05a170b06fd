// `npm run bench [-- --quick] [-- --only ID,...]`: every scenario of the
// benchmark (bench/README.md) in one go, one after another on this machine,
// each after a warm-up, each with its loss/duplicate count. Writes bench/results/
// <date>-<commit>[-quick].json, latest.md and latest.svg.
//
// Every run uses its own topic (bench-<random>), app ports from 7001 and sidecar ports
// of its own, so the lab and its e2e tests (6001, 6002) can run beside it; whatever a
// scenario leaves in Redis (streams, ledger keys) is deleted after it.
import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, release, totalmem, type } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { parseBenchArgs, UsageError, benchUsage, type BenchArgs } from './lib/args.ts'
import { DeliveryLog } from './lib/deliveries.ts'
import { endProgress, measure, progressPrinter, type Measurement } from './lib/measure.ts'
import { makeBenchOrder, paddingFor } from './lib/order.ts'
import { Meter, processesUnder, type NamedProcess } from './lib/procs.ts'
import { daprClient, daprSender, rawSender, type PublishPlan, type Sender } from './lib/publish.ts'
import { cleanupTopic, connect, redisPid } from './lib/redis.ts'
import { benchMarkdown, benchSvg } from './lib/report.ts'
import { addRatios, brokenEntry, entryFrom, evaluateGoals, type BenchResults, type Group, type Machine, type ScenarioResult } from './lib/results.ts'
import { BASE_APP_PORT, BENCH_DIR, DaprRun, DEFAULT_TUNING, REPO, type PubsubTuning, type RunOptions } from './lib/run.ts'
import { round } from './lib/stats.ts'
import { checkBeforeStart } from '../lab/commands/doctor.ts'
import { makePlan } from '../lab/plan.ts'
import { ProcessGroup } from '../lab/run/group.ts'
import { readRunFile, writeRunFile } from '../lab/run-file.ts'
import { RUNNER } from '../lab/run/supervise.ts'
import { ensureDaprRuntime } from '../lab/services/dapr-runtime.ts'
import { redis as redisService } from '../lab/services/redis.ts'
import { ORDER_PROCESSOR_PORT } from '../lab/roster.ts'
import { appPrefix, receivedOrderId } from '../shared/log-lines.ts'

const SCENARIOS = ['raw', 'floor', 'dapr-http', 'dapr-stream', 'dapr-grpc', 'dapr-bulk', 'peer', 'handler', 'latency', 'soak', 'scale', 'startup'] as const
type Scenario = typeof SCENARIOS[number]

interface Sizes {
  /** Orders per throughput scenario through Dapr. */
  count: number
  /** Orders for the raw limit (it is an order of magnitude faster). */
  rawCount: number
  warmup: number
  /** Seconds at each fixed rate of the latency scenario. */
  latencyS: number
  soakS: number
  handlerS: number
  /** Nothing processed for this long: what is missing is lost. */
  idleMs: number
}

// Quick: a couple of seconds of load per scenario, enough for stable ratios on 2 cores,
// the whole run under 3 minutes. Full: ten times the orders, the protocol's 5-minute soak.
// The raw limit gets more orders: it is ~20x faster, and needs a second of load to be
// measured at all (10,000 orders gave half the rate of 100,000: start-up, not the limit).
const QUICK: Sizes = { count: 2000, rawCount: 30_000, warmup: 300, latencyS: 3, soakS: 30, handlerS: 5, idleMs: 8000 }
const FULL: Sizes = { count: 20_000, rawCount: 100_000, warmup: 1000, latencyS: 10, soakS: 300, handlerS: 10, idleMs: 20_000 }
/** The raw path's warm-up: enough orders for the JIT to compile the consumer's loop. */
const RAW_WARMUP = 5000

/** The payload of the protocol: about 1 KB per order. */
const PAYLOAD = 1024
/** Publish requests in flight: enough to keep a sidecar busy; more only queues in it. */
const CONCURRENCY = 32
/** publishBulk sizes of the protocol; fewer requests in flight, as many orders in flight or more. */
const BULK_SIZES = [10, 100]
const BULK_CONCURRENCY = 8
/** The latency scenario's fixed rates, and the soak's. */
const RATES = [200, 500, 1000]
const SOAK_RATE = 200
/**
 * Bulk subscribe: batches of up to 500, flushed after 20 ms at the latest. Measured with
 * `npm run load -- --bulk 100 --bulk-subscribe --bulk-max N`: 100 -> ~4,000, 300 -> ~4,400,
 * 500 -> ~5,900, 1000 -> ~5,300 orders/s. A batch can hold no more orders than the Redis
 * component has workers (Dapr's default bulk subscriber blocks one worker per order until
 * its batch is answered), so concurrency and queueDepth go to 500 with it. 20 ms (Dapr's
 * default is 1 s) bounds what a batch that does not fill adds to latency.
 */
const BULK_SUB = { maxMessages: 500, maxAwaitMs: 20, tuning: { concurrency: 500, queueDepth: 500 } satisfies PubsubTuning }
/** autocannon connections for the handler scenario: enough to keep one core busy. */
const HANDLER_CONNECTIONS = 32

const say = (line: string) => process.stderr.write(`[bench] ${line}\n`)
const uniqueTopic = () => `bench-${randomUUID().slice(0, 8)}`

let args: BenchArgs
try {
  args = parseBenchArgs(process.argv.slice(2), SCENARIOS)
} catch (err) {
  if (!(err instanceof UsageError)) throw err
  process.stderr.write(`bench: ${err.message}\n\n${err.usage}\n`)
  process.exit(2)
}
if (args.help) {
  process.stdout.write(`${benchUsage(SCENARIOS)}\n`)
  process.exit(0)
}

const sizes = args.quick ? QUICK : FULL
const wanted = (s: Scenario) => args.only === undefined || args.only.includes(s)
const stop = new AbortController()
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => { say('stopping after the current step...'); stop.abort() })
const redis = connect()
const redisProcess: NamedProcess[] = await redisPid(redis).then((pid) => pid ? [{ pid, name: 'redis-server' }] : [])
const self: NamedProcess = { pid: process.pid, name: 'publisher (bench)' }
const padding = paddingFor(PAYLOAD)
const results: ScenarioResult[] = []
const startedAt = Date.now()

/** Runs one measurement with a live progress line. */
async function measured (label: string, send: Sender, plan: PublishPlan, deliveries: DeliveryLog, processes: NamedProcess[]): Promise<Measurement> {
  try {
    return await measure(send, plan, deliveries, { idleMs: sizes.idleMs, processes, onProgress: progressPrinter(`[bench] ${label}`, plan.count), signal: stop.signal })
  } finally {
    endProgress()
  }
}

/** Next free orderId of a run: every order of a run has its own, so scenarios never mix. */
class Ids {
  private next = 1
  take (count: number): number { const first = this.next; this.next += count; return first }
}

/** A group of scenarios on one Dapr run; a failure becomes failed entries, and the run always stops. */
async function withRun (label: string, options: Omit<RunOptions, 'topic'>, names: Array<[string, Group, string]>, body: (run: DaprRun, deliveries: DeliveryLog, ids: Ids) => Promise<void>): Promise<void> {
  if (stop.signal.aborted) return
  const topic = uniqueTopic()
  const run = new DaprRun({ ...options, topic })
  say(`${label}: starting ${options.instances} subscriber(s) (${options.subscriber}) and their sidecars (topic ${topic})`)
  let ok = false
  const before = results.length
  try {
    await run.start()
    await body(run, new DeliveryLog(run.appLogDir), new Ids())
    ok = true
    // What the sidecars complained about during the run goes with its figures: a tail of
    // orders 20 s late is explained by "App entered un-healthy status", say.
    const complaints = sidecarComplaints(run.appLogDir)
    if (complaints.length > 0) {
      say(`${label}: the order-processor's sidecar logged: ${complaints.join('; ')}`)
      for (const r of results.slice(before)) r.note = [r.note, `sidecar: ${complaints.join('; ')}`].filter(Boolean).join('; ')
    }
  } catch (err) {
    say(`${label} failed: ${(err as Error).message}`)
    for (const [name, group, description] of names) {
      if (!results.some((r) => r.name === name)) results.push(brokenEntry(name, group, description, (err as Error).message.split('\n')[0]!))
    }
  } finally {
    await run.stop({ keepFiles: !ok })
    if (!ok) say(`its files are kept in ${run.dir}`)
    await cleanupTopic(redis, topic).catch(() => {})
  }
}

/** Distinct warnings and errors in a run's subscriber sidecar logs, start-up notices left out, with counts. */
function sidecarComplaints (dir: string): string[] {
  const counts = new Map<string, number>()
  for (const file of existsSync(dir) ? readdirSync(dir).filter((f) => f.includes('_daprd_')) : []) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      if (!/level=(warning|error|fatal)/.test(line) || /mTLS is disabled|increasedCardinality|Actor runtime disabled|Scheduler disabled/.test(line)) continue
      const msg = (/msg="((?:[^"\\]|\\.)*)"/.exec(line)?.[1] ?? line).replace(/\d+(\.\d+)?(ms|s)\b|[0-9a-f-]{36}|\d{4,}/g, 'N').slice(0, 120)
      counts.set(msg, (counts.get(msg) ?? 0) + 1)
    }
  }
  return [...counts].slice(0, 3).map(([msg, n]) => `${msg} (${n}x)`)
}

async function warmUp (send: Sender, deliveries: DeliveryLog, ids: Ids, batch = 1): Promise<void> {
  await measured('warm-up', send, { firstId: ids.take(sizes.warmup), count: sizes.warmup, rate: 0, concurrency: CONCURRENCY, batch, padding }, deliveries, [])
}

// --- raw: the limit, no Dapr -------------------------------------------------------------

async function rawScenarios (): Promise<void> {
  const topic = uniqueTopic()
  const group = 'bench-raw'
  const dir = join(BENCH_DIR, topic)
  mkdirSync(dir, { recursive: true })
  // The group exists before the first order, as Dapr's does ("0": from the stream's start).
  await redis.xgroup('CREATE', topic, group, '0', 'MKSTREAM')
  const consumer = new ProcessGroup(process.execPath, ['--import', 'tsx', join(REPO, 'bench', 'raw-consumer.ts')], {
    cwd: REPO, env: { ...process.env, ORDERS_TOPIC: topic, RAW_GROUP: group, RAW_BATCH: '100' }, output: { file: join(dir, 'raw-consumer.out') }
  })
  const ids = new Ids()
  const deliveries = new DeliveryLog(dir, /\.out$/)
  const send = rawSender(redis, topic)
  try {
    say(`raw: XADD pipelines -> Redis stream -> XREADGROUP batches of 100 -> the same handler (topic ${topic})`)
    const processes = [self, { pid: consumer.pid!, name: 'raw-consumer' }, ...redisProcess]
    await measured('warm-up', send, { firstId: ids.take(RAW_WARMUP), count: RAW_WARMUP, rate: 0, concurrency: 4, batch: 100, padding }, deliveries, [])
    if (wanted('raw')) {
      const m = await measured('raw', send, { firstId: ids.take(sizes.rawCount), count: sizes.rawCount, rate: 0, concurrency: 4, batch: 100, padding }, deliveries, processes)
      results.push(entryFrom('raw', 'raw', 'Node Redis client: XADD pipelined (100 a round trip), consumer group XREADGROUP batches of 100, validate + ledger (HSETNX) + log line, XACK', m))
    }
    if (wanted('latency')) {
      for (const rate of RATES) {
        if (stop.signal.aborted) break
        const count = rate * sizes.latencyS
        const m = await measured(`latency raw ${rate}/s`, send, { firstId: ids.take(count), count, rate, concurrency: 1000, batch: 1, padding }, deliveries, processes)
        results.push(entryFrom(`latency-raw-${rate}`, 'latency', `raw at a fixed ${rate} orders/s for ${sizes.latencyS} s`, m, { rate }))
      }
    }
  } finally {
    await consumer.stop({ signal: 'SIGTERM', graceMs: 5000 })
    await cleanupTopic(redis, topic).catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  }
}

// --- Dapr: the lab's order-processor ------------------------------------------------------

const labRun: Omit<RunOptions, 'topic'> = { subscriber: 'order-processor', instances: 1, tuning: DEFAULT_TUNING, tracing: false }

async function daprScenarios (): Promise<void> {
  const names: Array<[string, Group, string]> = [['dapr-http', 'dapr', ''], ['dapr-grpc', 'dapr', ''], ['dapr-bulk-10', 'dapr', ''], ['dapr-bulk-100', 'dapr', ''], ['soak', 'soak', '']]
  await withRun('dapr', labRun, names, async (run, deliveries, ids) => {
    const http = daprClient('http', run.publisherSidecar)
    const grpc = daprClient('grpc', run.publisherSidecar)
    await http.start()
    await grpc.start()
    const topic = run.options.topic
    const sendHttp = daprSender(http, topic)
    const processes = [self, ...(await run.processes()), ...redisProcess]
    await warmUp(sendHttp, deliveries, ids)
    const throughput = async (name: string, description: string, send: Sender, batch: number, concurrency: number) => {
      const m = await measured(name, send, { firstId: ids.take(sizes.count), count: sizes.count, rate: 0, concurrency, batch, padding }, deliveries, processes)
      results.push(entryFrom(name, 'dapr', description, m))
    }
    if (wanted('dapr-http')) await throughput('dapr-http', `DaprClient HTTP publish, ${CONCURRENCY} in flight -> sidecar -> Redis -> sidecar -> Fastify /orders (the lab as shipped, tuned component)`, sendHttp, 1, CONCURRENCY)
    if (wanted('dapr-grpc')) {
      await warmUp(daprSender(grpc, topic), deliveries, ids)
      await throughput('dapr-grpc', `the same, DaprClient over gRPC, ${CONCURRENCY} in flight`, daprSender(grpc, topic), 1, CONCURRENCY)
    }
    if (wanted('dapr-bulk')) {
      for (const size of BULK_SIZES) {
        await warmUp(sendHttp, deliveries, ids, size)
        await throughput(`dapr-bulk-${size}`, `publishBulk of ${size} over HTTP, ${BULK_CONCURRENCY} in flight; delivered one by one to Fastify /orders`, sendHttp, size, BULK_CONCURRENCY)
      }
    }
    if (wanted('latency')) {
      for (const rate of RATES) {
        if (stop.signal.aborted) break
        const count = rate * sizes.latencyS
        const m = await measured(`latency dapr-http ${rate}/s`, sendHttp, { firstId: ids.take(count), count, rate, concurrency: 1000, batch: 1, padding }, deliveries, processes)
        results.push(entryFrom(`latency-dapr-http-${rate}`, 'latency', `dapr-http at a fixed ${rate} orders/s for ${sizes.latencyS} s`, m, { rate }))
      }
    }
    if (wanted('soak')) {
      // A tenth of the soak at its rate first, unmeasured: the start RSS is then the
      // steady state of that rate, not what the bursts before it left behind.
      const settle = SOAK_RATE * Math.ceil(sizes.soakS / 10)
      await measured(`soak warm-up ${SOAK_RATE}/s`, sendHttp, { firstId: ids.take(settle), count: settle, rate: SOAK_RATE, concurrency: 1000, batch: 1, padding }, deliveries, [])
      const count = SOAK_RATE * sizes.soakS
      const m = await measured(`soak ${SOAK_RATE}/s for ${sizes.soakS} s`, sendHttp, { firstId: ids.take(count), count, rate: SOAK_RATE, concurrency: 1000, batch: 1, padding }, deliveries, processes)
      const subscriber = m.processes.find((p) => p.name.startsWith('order-processor'))
      results.push(entryFrom('soak', 'soak', `dapr-http at a fixed ${SOAK_RATE} orders/s for ${sizes.soakS} s (after ${Math.ceil(sizes.soakS / 10)} s at that rate): RSS at start and end, CPU per 1k orders`, m, {
        rate: SOAK_RATE,
        rss_growth_pct: subscriber ? round(((subscriber.rssEndMb - subscriber.rssStartMb) / subscriber.rssStartMb) * 100) : null
      }))
    }
    await http.stop()
    await grpc.stop()
  })
}

async function bulkSubscribeScenario (): Promise<void> {
  const name = 'dapr-bulk-sub'
  const description = `publishBulk of 100 over HTTP, ${BULK_CONCURRENCY} in flight, bulk subscribe (batches <= ${BULK_SUB.maxMessages}, <= ${BULK_SUB.maxAwaitMs} ms) to the bench's Fastify bulk subscriber, batched ledger`
  await withRun('dapr-bulk-sub', {
    subscriber: 'bulk', instances: 1, tuning: BULK_SUB.tuning, tracing: false,
    env: { BULK_MAX_MESSAGES: String(BULK_SUB.maxMessages), BULK_MAX_AWAIT_MS: String(BULK_SUB.maxAwaitMs) }
  }, [[name, 'dapr', description]], async (run, deliveries, ids) => {
    const http = daprClient('http', run.publisherSidecar)
    await http.start()
    const send = daprSender(http, run.options.topic)
    const processes = [self, ...(await run.processes()), ...redisProcess]
    await warmUp(send, deliveries, ids, 100)
    const m = await measured(name, send, { firstId: ids.take(sizes.count), count: sizes.count, rate: 0, concurrency: BULK_CONCURRENCY, batch: 100, padding }, deliveries, processes)
    results.push(entryFrom(name, 'dapr', description, m))
    if (wanted('latency')) {
      // The trade-off: at a moderate rate batches do not fill, so each waits for the flush.
      const count = 500 * sizes.latencyS
      const lm = await measured('latency dapr-bulk-sub 500/s', send, { firstId: ids.take(count), count, rate: 500, concurrency: 1000, batch: 1, padding }, deliveries, processes)
      results.push(entryFrom('latency-dapr-bulk-sub-500', 'latency', `bulk subscribe at a fixed 500 orders/s (single publishes) for ${sizes.latencyS} s`, lm, { rate: 500 }))
    }
    await http.stop()
  })
}

/**
 * The floor: dapr-http's Dapr path (same run file, component tuning, publisher, orders and
 * concurrency) with a subscriber that only answers SUCCESS, so dapr-http / floor is what
 * the order-processor costs on top of Dapr.
 */
/** One throughput measurement of dapr-http's path (same publisher, load and sidecars) to another subscriber. */
async function pathScenario (name: string, group: Group, description: string, options: Omit<RunOptions, 'topic'>): Promise<void> {
  await withRun(name, options, [[name, group, description]], async (run, deliveries, ids) => {
    const http = daprClient('http', run.publisherSidecar)
    await http.start()
    const send = daprSender(http, run.options.topic)
    await warmUp(send, deliveries, ids)
    const m = await measured(name, send, { firstId: ids.take(sizes.count), count: sizes.count, rate: 0, concurrency: CONCURRENCY, batch: 1, padding }, deliveries, [self, ...(await run.processes()), ...redisProcess])
    results.push(entryFrom(name, group, description, m))
    await http.stop()
  })
}

const floorScenario = () => pathScenario('floor', 'floor',
  `dapr-http's path (DaprClient HTTP publish, ${CONCURRENCY} in flight, same sidecars and component) to a node:http subscriber that only answers SUCCESS`,
  { ...labRun, subscriber: 'floor' })

const peerScenario = () => pathScenario('peer', 'peer',
  'dapr-http with the JS SDK\'s DaprServer subscriber of the quickstart (Express), the same work per order',
  { subscriber: 'peer', instances: 1, tuning: DEFAULT_TUNING, tracing: false })

const streamScenario = () => pathScenario('dapr-stream', 'dapr',
  `dapr-http's publisher and load; the order-processor on a streaming subscription (gRPC SubscribeTopicEventsAlpha1) instead of POST /orders`,
  { ...labRun, env: { SUBSCRIPTIONS: 'streaming' } })

async function scaleScenarios (): Promise<void> {
  for (const n of [2, 3]) {
    const name = `dapr-http-x${n}`
    const description = `dapr-http with ${n} order-processors under one app id (competing consumers, ports ${Array.from({ length: n }, (_, i) => BASE_APP_PORT + 10 * i).join('/')})`
    await withRun(name, { ...labRun, instances: n }, [[name, 'scale', description]], async (run, deliveries, ids) => {
      const http = daprClient('http', run.publisherSidecar)
      await http.start()
      const send = daprSender(http, run.options.topic)
      await warmUp(send, deliveries, ids)
      const m = await measured(name, send, { firstId: ids.take(sizes.count), count: sizes.count, rate: 0, concurrency: CONCURRENCY, batch: 1, padding }, deliveries, [self, ...(await run.processes()), ...redisProcess])
      results.push(entryFrom(name, 'scale', description, m))
      await http.stop()
    })
  }
}

// --- handler: the order handler alone, no sidecar --------------------------------------------

async function handlerScenarios (): Promise<void> {
  const port = BASE_APP_PORT
  const order = JSON.stringify(makeBenchOrder(1, padding))
  for (const [name, kind, description] of [
    ['handler-fastify', 'fastify', 'autocannon POSTs of a CloudEvent to the lab\'s Fastify /orders (buildApp, in-memory ledger, JSON log line)'],
    ['handler-daprserver', 'daprserver', 'the same POSTs to the DaprServer peer\'s /orders (Express, in-memory ledger, JSON log line)']
  ] as const) {
    if (stop.signal.aborted) return
    const topic = uniqueTopic()
    // Its log lines go nowhere: both servers pay for writing them, the bench not for reading.
    const server = new ProcessGroup(process.execPath, ['--import', 'tsx', join(REPO, 'bench', 'handler-server.ts'), kind, String(port)], {
      cwd: REPO, env: { ...process.env, ORDERS_TOPIC: topic }, keep: 50, output: 'ignore-stdout'
    })
    try {
      const ready = () => server.stderr.map((l) => /^ready (\S+)$/.exec(l)?.[1]).find((p) => p !== undefined)
      await server.until(`the ${kind} server to be ready`, () => ready() !== undefined, 60_000)
      const path = ready()!
      const processes = await processesUnder(server.pid!)
      const run = (seconds: number) => {
        let n = 0
        return autocannon({
          url: `http://127.0.0.1:${port}${path}`,
          connections: HANDLER_CONNECTIONS,
          duration: seconds,
          requests: [{
            method: 'POST',
            headers: { 'content-type': 'application/cloudevents+json' },
            // A new event id and orderId each time: every request is a first delivery.
            setupRequest: (request) => {
              n++
              request.body = `{"specversion":"1.0","id":"h-${n}","source":"checkout","type":"com.dapr.event.sent","datacontenttype":"application/json","topic":"${topic}","pubsubname":"orderpubsub","data":${order.replace('"orderId":1,', `"orderId":${n},`)}}`
              return request
            }
          }]
        })
      }
      say(`${name}: ${sizes.handlerS} s of POSTs (${HANDLER_CONNECTIONS} connections) after a 2 s warm-up`)
      await run(2)
      const meter = new Meter(processes)
      const result = await run(sizes.handlerS)
      const failures = result.errors + result.timeouts + result.non2xx
      const usage = meter.stop(result.requests.total)
      results.push({
        name,
        group: 'handler',
        description,
        delivered_per_s: round(result.requests.average),
        p50_ms: round(result.latency.p50),
        p90_ms: round(result.latency.p90),
        p99_ms: round(result.latency.p99),
        sent: result.requests.sent,
        accepted: result.requests.total - failures,
        delivered: result['2xx'],
        lost: failures,
        duplicates: 0,
        status: failures === 0 ? 'ok' : 'failed',
        ...(failures ? { note: `${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx answers` } : {}),
        processes: usage.map((p) => ({ ...p, cpuS: round(p.cpuS)!, cpuSPer1k: round(p.cpuSPer1k), rssStartMb: round(p.rssStartMb)!, rssEndMb: round(p.rssEndMb)!, peakRssMb: round(p.peakRssMb)! }))
      })
    } catch (err) {
      results.push(brokenEntry(name, 'handler', description, (err as Error).message))
    } finally {
      await server.stop({ signal: 'SIGTERM', graceMs: 5000 })
    }
  }
}

// --- startup: warm `npm start` to the first delivered order ----------------------------------

/**
 * What a warm `npm start` does, with the lab's own dapr.yaml (tracing config, pretty logs,
 * the real checkout publishing order 1 at once), only the order-processor on port 7001
 * instead of 6001: the plan, the Dapr runtime found, the doctor's checks, Redis checked,
 * then the project's runner; timed until the order-processor logs order 1. npm's own
 * start-up (~0.3 s) and the TypeScript loader of the tool are not included.
 */
async function startupScenario (): Promise<void> {
  const topic = uniqueTopic()
  const dir = join(BENCH_DIR, topic)
  const description = 'the steps of a warm `npm start` (plan, runtime, doctor, Redis check, runner) with dapr.yaml on port 7001, to the first order logged'
  const t0 = Date.now()
  const plan = makePlan({}, { ...process.env, ORDERS_TOPIC: topic })
  const runtime = await ensureDaprRuntime()
  // Its verdict is about port 6001, which the e2e tests may hold; the time is what counts.
  await checkBeforeStart(plan).catch(() => false)
  await redisService.up()
  const lab = readRunFile()
  const runFile = writeRunFile(dir, {
    ...lab,
    common: { ...lab.common, resourcesPath: join(REPO, 'components') },
    apps: lab.apps.map((app) => app.appPort === ORDER_PROCESSOR_PORT ? { ...app, appPort: BASE_APP_PORT } : app)
  }, 'bench/bench.ts (startup scenario)')
  let firstOrderS: number | undefined
  const run = new ProcessGroup(process.execPath, ['--import', 'tsx', RUNNER, runFile], {
    cwd: REPO,
    env: { ...process.env, ORDERS_TOPIC: topic, ORDER_COUNT: '1', DAPR_RUNTIME_PATH: runtime.root },
    keep: 200,
    onLine: (line) => {
      if (firstOrderS === undefined && line.startsWith(appPrefix('order-processor')) && receivedOrderId(line) === 1) firstOrderS = (Date.now() - t0) / 1000
    }
  })
  await run.until('the first order', () => firstOrderS !== undefined, 60_000).catch(() => { /* reported below, with the output */ })
  await run.stop({ signal: 'SIGTERM', graceMs: 30_000 })
  const output = run.output
  await cleanupTopic(redis, topic).catch(() => {})
  rmSync(dir, { recursive: true, force: true })
  if (firstOrderS === undefined) {
    results.push(brokenEntry('startup', 'startup', description, `no order within 60 s; last output: ${output.slice(-300)}`))
  } else {
    results.push({ name: 'startup', group: 'startup', description, delivered_per_s: null, p50_ms: null, p90_ms: null, p99_ms: null, sent: 1, accepted: 1, delivered: 1, lost: 0, duplicates: 0, status: 'ok', first_order_s: round(firstOrderS) })
  }
}

// --- the run ---------------------------------------------------------------------------------

function machine (): Machine {
  const run = (cmd: string, argv: string[]) => { try { return execFileSync(cmd, argv, { encoding: 'utf8' }).trim() } catch { return 'unknown' } }
  const daprd = join(process.env.DAPR_RUNTIME_PATH || process.env.HOME || '', '.dapr', 'bin', 'daprd')
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memory_gb: Math.round(totalmem() / 2 ** 30),
    os: `${type()} ${release()}`,
    node: process.version,
    daprd: run(daprd, ['--version']).split('\n')[0] ?? 'unknown',
    redis: run('redis-server', ['--version']).replace(/^.*v=(\S+).*$/s, '$1')
  }
}

const steps: Array<[boolean, string, () => Promise<void>]> = [
  [wanted('raw') || wanted('latency'), 'raw', rawScenarios],
  // Just before dapr-http, so the two are measured as close together as the run allows.
  [wanted('floor'), 'floor', floorScenario],
  [['dapr-http', 'dapr-grpc', 'dapr-bulk', 'latency', 'soak'].some((s) => wanted(s as Scenario)), 'dapr', daprScenarios],
  [wanted('dapr-bulk'), 'dapr-bulk-sub', bulkSubscribeScenario],
  [wanted('dapr-stream'), 'dapr-stream', streamScenario],
  [wanted('peer'), 'peer', peerScenario],
  [wanted('scale'), 'scale', scaleScenarios],
  [wanted('handler'), 'handler', handlerScenarios],
  [wanted('startup'), 'startup', startupScenario]
]
say(`${args.quick ? 'quick' : 'full'} run: ${steps.filter(([on]) => on).map(([, name]) => name).join(', ')}`)
try {
  for (const [on, , step] of steps) {
    if (on && !stop.signal.aborted) await step()
  }
} finally {
  redis.disconnect()
}
if (stop.signal.aborted) {
  say('stopped: no results written')
  process.exit(130)
}

const scenarios = addRatios(results)
const commit = (() => { try { return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).trim() } catch { return 'nocommit' } })()
const bench: BenchResults = {
  date: new Date().toISOString(),
  commit,
  quick: args.quick,
  machine: machine(),
  settings: {
    payload_bytes: PAYLOAD,
    publish_concurrency: CONCURRENCY,
    bulk_sizes: BULK_SIZES,
    bulk_concurrency: BULK_CONCURRENCY,
    redis_component: DEFAULT_TUNING,
    bulk_subscribe: { maxMessagesCount: BULK_SUB.maxMessages, maxAwaitDurationMs: BULK_SUB.maxAwaitMs, redis_component: BULK_SUB.tuning },
    tracing: 'off (sampling 0)',
    warmup_orders: sizes.warmup,
    raw_warmup_orders: RAW_WARMUP,
    app_health_probe: { timeout_ms: 900, threshold: 5 },
    orders_per_scenario: sizes.count,
    raw_orders: sizes.rawCount,
    latency_seconds_per_rate: sizes.latencyS,
    soak: { rate: SOAK_RATE, seconds: sizes.soakS },
    handler: { seconds: sizes.handlerS, connections: HANDLER_CONNECTIONS }
  },
  scenarios,
  goals: evaluateGoals(scenarios),
  duration_s: Math.round((Date.now() - startedAt) / 1000)
}

const out = join(REPO, 'bench', 'results')
mkdirSync(out, { recursive: true })
const json = `${JSON.stringify(bench, null, 2)}\n`
const dated = `${bench.date.slice(0, 10)}-${commit}${args.quick ? '-quick' : ''}${args.only ? '-partial' : ''}.json`
writeFileSync(join(out, dated), json)
// The dated JSON is the record (the newest complete one is the latest); latest.md and
// latest.svg render it. A partial run (--only) leaves them as they are.
if (!args.only) {
  writeFileSync(join(out, 'latest.md'), benchMarkdown(bench))
  writeFileSync(join(out, 'latest.svg'), benchSvg(bench))
}
process.stdout.write(`\n${benchMarkdown(bench)}\n`)
say(`done in ${bench.duration_s} s: bench/results/${dated}${args.only ? '' : ', latest.md, latest.svg'}`)
process.exit(scenarios.some((s) => s.status === 'failed') ? 1 : 0)
