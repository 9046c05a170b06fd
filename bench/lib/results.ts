// The bench's results: one entry per scenario, the ratios the protocol's goals are stated
// in, and the goals themselves, met or not. Pure (test/unit/bench-report.test.ts).
import type { Measurement } from './measure.ts'
import type { ProcUsage } from './procs.ts'
import { ratio, round } from './stats.ts'

export type Group = 'raw' | 'floor' | 'dapr' | 'peer' | 'handler' | 'latency' | 'soak' | 'scale' | 'startup'

/** One scenario's figures. Keys are documented in the README ("Load and benchmark"). */
export interface ScenarioResult {
  /** Scenario id, e.g. dapr-http, latency-raw-500. */
  name: string
  group: Group
  /** What was measured, in words. */
  description: string
  /** Orders (or, for handler, requests) processed per second. */
  delivered_per_s: number | null
  /** End-to-end latency (publish -> handler), ms; for handler, request latency. */
  p50_ms: number | null
  p90_ms: number | null
  p99_ms: number | null
  sent: number
  accepted: number
  delivered: number
  lost: number
  duplicates: number
  /** delivered_per_s / raw's. */
  ratio_to_raw?: number | null
  /** delivered_per_s / the floor's: what the subscriber costs on top of Dapr (floor, dapr, peer, scale). */
  ratio_to_floor?: number | null
  /** delivered_per_s / peer's (dapr-http only). */
  ratio_to_peer?: number | null
  /** Fastify requests/s / DaprServer requests/s (handler-fastify only). */
  handler_ratio?: number | null
  /** p99 minus raw's p99 at the same rate (latency-dapr-http-* only), ms. */
  added_p99_ms?: number | null
  /** Offered rate of a fixed-rate scenario, orders/s. */
  rate?: number
  /** Soak: the subscriber's RSS growth from start to end, %. */
  rss_growth_pct?: number | null
  /** Startup: seconds from the command to the first processed order. */
  first_order_s?: number | null
  /** failed = something lost, processed twice or not accepted (or the scenario broke). */
  status: 'ok' | 'failed'
  note?: string
  processes?: ProcUsage[]
}

/** A measurement as a result entry (figures rounded for humans; the ratios use them as they are). */
export function entryFrom (name: string, group: Group, description: string, m: Measurement, extra: Partial<ScenarioResult> = {}): ScenarioResult {
  const failed = m.lost > 0 || m.duplicates > 0 || m.failed > 0 || m.unexpected > 0 || m.delivered === 0
  return {
    name,
    group,
    description,
    delivered_per_s: round(m.deliveredPerS),
    p50_ms: round(m.latency.p50),
    p90_ms: round(m.latency.p90),
    p99_ms: round(m.latency.p99),
    sent: m.sent,
    accepted: m.accepted,
    delivered: m.delivered,
    lost: m.lost,
    duplicates: m.duplicates,
    status: failed ? 'failed' : 'ok',
    ...(m.errors.length ? { note: m.errors.join('; ') } : {}),
    processes: m.processes.map((p) => ({ ...p, cpuS: round(p.cpuS)!, cpuSPer1k: round(p.cpuSPer1k), rssStartMb: round(p.rssStartMb)!, rssEndMb: round(p.rssEndMb)!, peakRssMb: round(p.peakRssMb)! })),
    ...extra
  }
}

/** An entry for a scenario that could not run, so the table says so instead of hiding it. */
export function brokenEntry (name: string, group: Group, description: string, why: string): ScenarioResult {
  return { name, group, description, delivered_per_s: null, p50_ms: null, p90_ms: null, p99_ms: null, sent: 0, accepted: 0, delivered: 0, lost: 0, duplicates: 0, status: 'failed', note: why }
}

const find = (entries: ScenarioResult[], name: string) => entries.find((e) => e.name === name)

/** Throughput scenarios on a Dapr path (the floor's included): the ones related to raw and to the floor. */
const DAPR_PATHS: Group[] = ['floor', 'dapr', 'peer', 'scale']

/** Fills in ratio_to_raw, ratio_to_floor, ratio_to_peer, handler_ratio and added_p99_ms where their baselines ran. */
export function addRatios (entries: ScenarioResult[]): ScenarioResult[] {
  const raw = find(entries, 'raw')?.delivered_per_s
  const floor = find(entries, 'floor')?.delivered_per_s
  const peer = find(entries, 'peer')?.delivered_per_s
  const daprServer = find(entries, 'handler-daprserver')?.delivered_per_s
  return entries.map((e) => {
    const out = { ...e }
    if (e.group === 'raw' || DAPR_PATHS.includes(e.group)) out.ratio_to_raw = ratio(e.delivered_per_s, raw)
    if (DAPR_PATHS.includes(e.group)) out.ratio_to_floor = ratio(e.delivered_per_s, floor)
    if (e.name === 'dapr-http') out.ratio_to_peer = ratio(e.delivered_per_s, peer)
    if (e.name === 'handler-fastify') out.handler_ratio = ratio(e.delivered_per_s, daprServer)
    const rate = /^latency-dapr-http-(\d+)$/.exec(e.name)?.[1]
    if (rate !== undefined) {
      const base = find(entries, `latency-raw-${rate}`)?.p99_ms
      out.added_p99_ms = e.p99_ms != null && base != null ? round(e.p99_ms - base) : null
    }
    return out
  })
}

export interface Goal {
  goal: string
  target: string
  /** The measured figure, in words (with the ratio it is about). */
  measured: string
  /** null: not measured in this run. */
  met: boolean | null
}

/** The protocol's goals (bench/README.md, "The goals"), judged on one run's entries. */
export function evaluateGoals (entries: ScenarioResult[]): Goal[] {
  const goals: Goal[] = []
  const http = find(entries, 'dapr-http')
  const floor = find(entries, 'floor')
  goals.push({
    goal: 'dapr-http vs. the floor (Dapr with a subscriber that only answers)',
    target: '>= 0.85',
    measured: http?.ratio_to_floor != null ? `${http.ratio_to_floor} (${http.delivered_per_s} vs. ${floor?.delivered_per_s} orders/s)` : 'not measured',
    // A floor that lost or duplicated is no baseline.
    met: http?.ratio_to_floor != null ? http.ratio_to_floor >= 0.85 && http.status === 'ok' && floor?.status === 'ok' : null
  })
  const stream = find(entries, 'dapr-stream')
  const streamRatio = stream && http ? ratio(stream.delivered_per_s, http.delivered_per_s) : null
  goals.push({
    goal: 'dapr-stream (streaming subscription) vs. dapr-http',
    target: '>= 2',
    measured: streamRatio != null ? `${streamRatio} (${stream!.delivered_per_s} vs. ${http!.delivered_per_s} orders/s)` : 'not measured',
    met: streamRatio != null ? streamRatio >= 2 && stream!.status === 'ok' && http!.status === 'ok' : null
  })
  const raw = find(entries, 'raw')
  const dapr = entries.filter((e) => e.group === 'dapr' && e.status === 'ok' && e.ratio_to_raw != null)
  const best = dapr.sort((a, b) => (b.ratio_to_raw ?? 0) - (a.ratio_to_raw ?? 0))[0]
  goals.push({
    goal: 'Best Dapr mode vs. the raw limit, zero loss',
    target: '>= 0.25',
    measured: best && raw ? `${best.ratio_to_raw} (${best.name}: ${best.delivered_per_s} vs. raw ${raw.delivered_per_s} orders/s)` : 'not measured',
    met: best && raw ? (best.ratio_to_raw ?? 0) >= 0.25 : null
  })
  goals.push({
    goal: 'dapr-http vs. the DaprServer peer',
    target: '>= 1.5',
    measured: http?.ratio_to_peer != null ? `${http.ratio_to_peer} (${http.delivered_per_s} vs. ${find(entries, 'peer')?.delivered_per_s} orders/s)` : 'not measured',
    met: http?.ratio_to_peer != null ? http.ratio_to_peer >= 1.5 && http.status === 'ok' : null
  })
  const handler = find(entries, 'handler-fastify')
  goals.push({
    goal: 'Handler: Fastify /orders vs. DaprServer requests/s',
    target: '>= 3',
    measured: handler?.handler_ratio != null ? `${handler.handler_ratio} (${handler.delivered_per_s} vs. ${find(entries, 'handler-daprserver')?.delivered_per_s} requests/s)` : 'not measured',
    met: handler?.handler_ratio != null ? handler.handler_ratio >= 3 : null
  })
  const at500 = find(entries, 'latency-dapr-http-500')
  goals.push({
    goal: 'Added end-to-end p99 at 500 orders/s over raw',
    target: '<= 2 ms',
    measured: at500?.added_p99_ms != null ? `${at500.added_p99_ms} ms (p99 ${at500.p99_ms} vs. raw ${find(entries, 'latency-raw-500')?.p99_ms} ms)` : 'not measured',
    met: at500?.added_p99_ms != null ? at500.added_p99_ms <= 2 : null
  })
  const soak = find(entries, 'soak')
  const subscriber = soak?.processes?.find((p) => p.name.startsWith('order-processor'))
  goals.push({
    goal: 'Soak: subscriber RSS flat within 10 %, under 100 MB',
    target: '<= 10 %, < 100 MB',
    measured: subscriber && soak?.rss_growth_pct != null ? `${soak.rss_growth_pct} % (${subscriber.rssStartMb} -> ${subscriber.rssEndMb} MB)` : 'not measured',
    met: subscriber && soak?.rss_growth_pct != null ? Math.abs(soak.rss_growth_pct) <= 10 && subscriber.rssEndMb < 100 : null
  })
  // CPU-seconds per 1,000 orders are CPU-milliseconds per order.
  const cpu = subscriber?.cpuSPer1k
  goals.push({
    goal: 'Order-processor CPU per order at 200 orders/s (soak)',
    target: '<= 0.25 ms',
    measured: cpu != null ? `${cpu} ms` : 'not measured',
    met: cpu != null ? cpu <= 0.25 : null
  })
  const startup = find(entries, 'startup')
  goals.push({
    goal: 'Warm `npm start` to the first delivered order',
    target: '<= 2 s',
    measured: startup?.first_order_s != null ? `${startup.first_order_s} s` : 'not measured',
    met: startup?.first_order_s != null ? startup.first_order_s <= 2 : null
  })
  return goals
}

export interface Machine {
  cpu: string
  cores: number
  memory_gb: number
  os: string
  node: string
  daprd: string
  redis: string
}

export interface BenchResults {
  date: string
  commit: string
  quick: boolean
  machine: Machine
  /** What the bench tuned and sent (payload, component settings, bulk sizes...). */
  settings: Record<string, unknown>
  scenarios: ScenarioResult[]
  goals: Goal[]
  /** Seconds the whole run took. */
  duration_s: number
}
