// Command lines of `npm run load` and `npm run bench`: parsed and checked here, without
// side effects, so a bad argument gets a clear message before anything starts.
import { parseArgs, type ParseArgsConfig } from 'node:util'
import type { Protocol } from './publish.ts'

export class UsageError extends Error {
  constructor (message: string, readonly usage: string) {
    super(message)
  }
}

export const LOAD_USAGE = `Usage: npm run load -- [options]

Publishes orders through Dapr (checkout sidecar -> Redis -> order-processor sidecar ->
the Fastify order-processor on port 7001) and reports what arrived, how fast, and what it cost.

  --count N            orders to send (default 2000)
  --rate R             orders per second; 0 = as fast as possible (default 0)
  --concurrency C      publish requests in flight at most (default 32)
  --payload BYTES      size of one order as JSON, 128..1000000 (default 1024)
  --bulk B             orders per request: 1 = publish, 2..1000 = publishBulk (default 1)
  --protocol P         http | grpc: how the load tool talks to its sidecar (default http)
  --instances N        order-processors under one app id, 1..9 (ports 7001, 7011, ...) (default 1)
  --bulk-subscribe     deliver in batches to the bench's bulk subscriber instead
  --bulk-max N         bulk subscribe: most orders in one batch, 1..1000 (default 500; raises
                       the Redis component's concurrency and queue depth to N: a batch is never larger)
  --bulk-await-ms MS   bulk subscribe: longest wait for a batch to fill (default 20)
  --redis-concurrency N  deliveries in flight per sidecar (Redis component, default 100)
  --redis-queue-depth N  orders one XREADGROUP of a sidecar fetches (Redis component, default 100)
  --tracing            sidecars trace every request (the lab's config/tracing.yaml)
  --profile            write a CPU profile of each subscriber (.dapr/bench/profiles/*.cpuprofile;
                       open it in Chrome DevTools or speedscope)
  --keep               keep the run's files (.dapr/bench/<topic>/: run file, logs)
  --help               this text

Examples:
  npm run load -- --count 2000
  npm run load -- --count 5000 --rate 500
  npm run load -- --count 20000 --bulk 100 --protocol grpc`

export const BENCH_USAGE = `Usage: npm run bench -- [--quick] [--only ID,ID...]

Runs every scenario of the benchmark (bench/README.md) one after
another and writes bench/results/<date>-<commit>.json, latest.md and latest.svg.

  --quick        short runs (finishes in under 3 minutes on 2 cores), for everyday use
  --only IDS     run only these scenarios: SCENARIOS
  --help         this text`

export interface LoadArgs {
  count: number
  rate: number
  concurrency: number
  payload: number
  bulk: number
  protocol: Protocol
  instances: number
  bulkSubscribe: boolean
  bulkAwaitMs: number
  bulkMax: number
  redisConcurrency: number
  redisQueueDepth: number
  tracing: boolean
  profile: boolean
  keep: boolean
  help: boolean
}

function parse (argv: string[], options: NonNullable<ParseArgsConfig['options']>, usage: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: false, strict: true }).values
  } catch (err) {
    // node:util's messages name the option ("Unknown option '--cout'"); keep them, drop its advice.
    throw new UsageError((err as Error).message.replace(/\. To specify a positional.*$/s, '.'), usage)
  }
}

/** A whole number within [min, max], or a UsageError naming the option. */
function integer (name: string, raw: unknown, fallback: number, min: number, max: number, usage: string): number {
  if (raw === undefined) return fallback
  const value = Number(raw)
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`--${name} takes a whole number from ${min} to ${max}, not "${String(raw)}".`, usage)
  }
  return value
}

export function parseLoadArgs (argv: string[]): LoadArgs {
  const u = LOAD_USAGE
  const v = parse(argv, {
    count: { type: 'string' },
    rate: { type: 'string' },
    concurrency: { type: 'string' },
    payload: { type: 'string' },
    bulk: { type: 'string' },
    protocol: { type: 'string' },
    instances: { type: 'string' },
    'bulk-subscribe': { type: 'boolean' },
    'bulk-await-ms': { type: 'string' },
    'bulk-max': { type: 'string' },
    'redis-concurrency': { type: 'string' },
    'redis-queue-depth': { type: 'string' },
    tracing: { type: 'boolean' },
    profile: { type: 'boolean' },
    keep: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' }
  }, u)
  const protocol = (v.protocol as string | undefined) ?? 'http'
  if (protocol !== 'http' && protocol !== 'grpc') throw new UsageError(`--protocol is http or grpc, not "${protocol}".`, u)
  let rate = 0
  if (v.rate !== undefined) {
    rate = Number(v.rate)
    if (typeof v.rate !== 'string' || v.rate.trim() === '' || !Number.isFinite(rate) || rate < 0 || rate > 1_000_000) {
      throw new UsageError(`--rate takes orders per second from 0 (as fast as possible) to 1000000, not "${String(v.rate)}".`, u)
    }
  }
  const args: LoadArgs = {
    count: integer('count', v.count, 2000, 1, 10_000_000, u),
    rate,
    concurrency: integer('concurrency', v.concurrency, 32, 1, 4096, u),
    payload: integer('payload', v.payload, 1024, 128, 1_000_000, u),
    bulk: integer('bulk', v.bulk, 1, 1, 1000, u),
    protocol,
    instances: integer('instances', v.instances, 1, 1, 9, u),
    bulkSubscribe: v['bulk-subscribe'] === true,
    bulkAwaitMs: integer('bulk-await-ms', v['bulk-await-ms'], 20, 1, 60_000, u),
    bulkMax: integer('bulk-max', v['bulk-max'], 500, 1, 1000, u),
    redisConcurrency: integer('redis-concurrency', v['redis-concurrency'], 100, 1, 10_000, u),
    redisQueueDepth: integer('redis-queue-depth', v['redis-queue-depth'], 100, 1, 100_000, u),
    tracing: v.tracing === true,
    profile: v.profile === true,
    keep: v.keep === true,
    help: v.help === true
  }
  if (args.bulkSubscribe && args.instances > 1) throw new UsageError('--bulk-subscribe runs one subscriber; leave out --instances.', u)
  return args
}

export interface BenchArgs { quick: boolean, only?: string[], help: boolean }

export function parseBenchArgs (argv: string[], scenarioIds: readonly string[]): BenchArgs {
  const u = BENCH_USAGE.replace('SCENARIOS', scenarioIds.join(', '))
  const v = parse(argv, { quick: { type: 'boolean' }, only: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, u)
  let only: string[] | undefined
  if (v.only !== undefined) {
    only = String(v.only).split(',').map((s) => s.trim()).filter(Boolean)
    const unknown = only.filter((id) => !scenarioIds.includes(id))
    if (only.length === 0 || unknown.length > 0) throw new UsageError(`--only takes scenario ids from: ${scenarioIds.join(', ')} (not "${unknown.join(', ') || String(v.only)}").`, u)
  }
  return { quick: v.quick === true, only, help: v.help === true }
}

export function benchUsage (scenarioIds: readonly string[]): string {
  return BENCH_USAGE.replace('SCENARIOS', scenarioIds.join(', '))
}
