import { describe, expect, it } from 'vitest'
import { parseLine } from '../../bench/lib/deliveries.ts'
import type { Measurement } from '../../bench/lib/measure.ts'
import { roleOf } from '../../bench/lib/procs.ts'
import { benchMarkdown, benchSvg, fmt, formatLoadReport, verdict } from '../../bench/lib/report.ts'
import { addRatios, evaluateGoals, type BenchResults, type ScenarioResult } from '../../bench/lib/results.ts'
import { tunedPubsub } from '../../bench/lib/run.ts'

function entry (name: string, group: ScenarioResult['group'], perS: number | null, extra: Partial<ScenarioResult> = {}): ScenarioResult {
  return { name, group, description: `${name} scenario`, delivered_per_s: perS, p50_ms: 1, p90_ms: 2, p99_ms: 3, sent: 10, accepted: 10, delivered: 10, lost: 0, duplicates: 0, status: 'ok', ...extra }
}

const measurement: Measurement = {
  accepted: 2000, delivered: 1998, lost: 2, duplicates: 0, unexpected: 0, sent: 2000, failed: 0, redelivered: 1,
  publishedPerS: 1500, deliveredPerS: 750.4, durationS: 2.66,
  latency: { p50: 12.34, p90: 20.1, p99: 35, max: 40.25, mean: 14, count: 1998 },
  processes: [{ name: 'order-processor:7001', pid: 1, cpuS: 1.5, cpuSPer1k: 0.75, rssStartMb: 150, rssEndMb: 151, peakRssMb: 155.5 }],
  errors: []
}

describe('fmt', () => {
  it('rounds for tables and marks what is missing', () => {
    expect(fmt(1234.5)).toBe('1235')
    expect(fmt(3.14159)).toBe('3.14')
    expect(fmt(7)).toBe('7')
    expect(fmt(null)).toBe('–')
    expect(fmt(Number.NaN)).toBe('–')
  })
})

describe('the load report', () => {
  const text = formatLoadReport({ count: 2000, payload: 1024, rate: 0, concurrency: 32, bulk: 1, protocol: 'http', instances: 1, bulkSubscribe: false, topic: 'bench-x' }, measurement)

  it('says what was sent, how, and what came of it', () => {
    expect(text).toContain('2000 orders of 1024 B, unthrottled, 32 in flight, publish over HTTP, to 1 order-processor (topic bench-x)')
    expect(text).toMatch(/lost\s+2/)
    expect(text).toMatch(/duplicates\s+0/)
    expect(text).toContain('orders/s: 750 delivered')
    expect(text).toContain('p50 12.3 ms, p90 20.1 ms, p99 35 ms')
    expect(text).toMatch(/order-processor:7001\s+1.5\s+0.75\s+151\s+156/)
  })

  it('fails a run that lost or duplicated anything', () => {
    expect(text.trimEnd().split('\n').at(-1)).toBe('FAILED: 2 lost.')
    expect(verdict({ lost: 0, duplicates: 0, failed: 0, unexpected: 0 }).ok).toBe(true)
    expect(verdict({ lost: 0, duplicates: 3, failed: 1, unexpected: 0 }).text).toBe('FAILED: 3 processed twice, 1 not accepted by Dapr.')
  })
})

describe('ratios and goals', () => {
  const scenarios = addRatios([
    entry('raw', 'raw', 10_000),
    entry('floor', 'floor', 1250),
    entry('dapr-http', 'dapr', 1000),
    entry('dapr-bulk-sub', 'dapr', 4000),
    entry('dapr-stream', 'dapr', 2500),
    entry('dapr-grpc', 'dapr', 9000, { status: 'failed', lost: 1 }),
    entry('peer', 'peer', 800),
    entry('handler-fastify', 'handler', 30_000),
    entry('handler-daprserver', 'handler', 8000),
    entry('latency-raw-500', 'latency', 500, { p99_ms: 1.5 }),
    entry('latency-dapr-http-500', 'latency', 500, { p99_ms: 6 }),
    entry('soak', 'soak', 200, { rss_growth_pct: 2, processes: [{ name: 'order-processor:7001', pid: 1, cpuS: 1, cpuSPer1k: 0.5, rssStartMb: 90, rssEndMb: 92, peakRssMb: 95 }] }),
    entry('startup', 'startup', null, { first_order_s: 2.5 })
  ])

  it('relates each scenario to its baseline', () => {
    const by = (n: string) => scenarios.find((s) => s.name === n)!
    expect(by('dapr-http').ratio_to_raw).toBe(0.1)
    expect(by('dapr-http').ratio_to_peer).toBe(1.25)
    expect(by('dapr-http').ratio_to_floor).toBe(0.8)
    expect(by('peer').ratio_to_floor).toBe(0.64)
    expect(by('floor').ratio_to_floor).toBe(1)
    expect(by('floor').ratio_to_raw).toBe(0.13)
    expect(by('handler-fastify').handler_ratio).toBe(3.75)
    expect(by('latency-dapr-http-500').added_p99_ms).toBe(4.5)
    expect(by('raw').ratio_to_raw).toBe(1)
    expect(by('handler-fastify').ratio_to_raw).toBeUndefined()
    expect(by('handler-fastify').ratio_to_floor).toBeUndefined()
    expect(by('latency-dapr-http-500').ratio_to_floor).toBeUndefined()
  })

  it('has no ratio to the floor when the floor did not run', () => {
    const [http] = addRatios([entry('dapr-http', 'dapr', 1000)])
    expect(http!.ratio_to_floor).toBeNull()
    const floorGoal = evaluateGoals([http!])[0]!
    expect(floorGoal).toMatchObject({ goal: expect.stringContaining('floor'), measured: 'not measured', met: null })
  })

  it('judges dapr-http against the floor, which needs both to be clean', () => {
    const floorGoal = (floorStatus: ScenarioResult['status'], httpPerS: number) =>
      evaluateGoals(addRatios([entry('floor', 'floor', 1000, { status: floorStatus }), entry('dapr-http', 'dapr', httpPerS)]))[0]!
    expect(floorGoal('ok', 900)).toMatchObject({ target: '>= 0.85', measured: '0.9 (900 vs. 1000 orders/s)', met: true })
    expect(floorGoal('ok', 800).met).toBe(false)
    expect(floorGoal('failed', 900).met).toBe(false)
  })

  it('never takes the floor for the best Dapr mode', () => {
    const goals = evaluateGoals(addRatios([entry('raw', 'raw', 1000), entry('floor', 'floor', 900), entry('dapr-http', 'dapr', 100)]))
    expect(goals.find((g) => g.goal.startsWith('Best Dapr mode'))!.measured).toBe('0.1 (dapr-http: 100 vs. raw 1000 orders/s)')
  })

  it('judges each goal of the protocol, ignoring failed scenarios for the best mode', () => {
    const goals = evaluateGoals(scenarios)
    // floor 0.8 < 0.85, stream 2.5 >= 2, best 0.4 >= 0.25, peer 1.25 < 1.5, handler 3.75 >= 3, p99 +4.5 > 2 ms, soak ok,
    // CPU 0.5 ms > 0.25 ms an order, startup 2.5 > 2 s
    expect(goals.map((g) => g.met)).toEqual([false, true, true, false, true, false, true, false, false])
    expect(goals[0]!.measured).toBe('0.8 (1000 vs. 1250 orders/s)')
    expect(goals[1]!.measured).toBe('2.5 (2500 vs. 1000 orders/s)')
    expect(goals[2]!.measured).toBe('0.4 (dapr-bulk-sub: 4000 vs. raw 10000 orders/s)')
    expect(goals[5]!.measured).toBe('4.5 ms (p99 6 vs. raw 1.5 ms)')
    expect(goals[7]).toMatchObject({ goal: expect.stringContaining('CPU per order'), measured: '0.5 ms', met: false })
  })

  it('says "not measured" for goals whose scenarios did not run', () => {
    expect(evaluateGoals([entry('raw', 'raw', 1)]).every((g) => g.met === null && g.measured === 'not measured')).toBe(true)
  })

  const results: BenchResults = {
    date: '2026-11-22T06:00:00.000Z',
    commit: 'abc1234',
    quick: true,
    machine: { cpu: 'AMD EPYC', cores: 2, memory_gb: 24, os: 'Linux 6.18', node: 'v20.20.2', daprd: '1.18.3', redis: '7.0.15' },
    settings: {},
    scenarios,
    goals: evaluateGoals(scenarios),
    duration_s: 120
  }

  it('renders a Markdown table with the date, machine, scaling curve and goals', () => {
    const md = benchMarkdown(results)
    expect(md).toContain('2026-11-22, commit abc1234, quick run (120 s) on AMD EPYC, 2 cores, 24 GB')
    expect(md).toContain('| `dapr-http` | 1000 | 1 | 2 | 3 | 0 | 0 | 0.1 | 0.8 | ok | dapr-http scenario |')
    expect(md).toContain('| `dapr-grpc` | 9000 | 1 | 2 | 3 | 1 | 0 | 0.9 | 7.2 | **failed** |')
    expect(md).toContain('| `raw` | 10000 | 1 | 2 | 3 | 0 | 0 | 1 |  | ok |')
    expect(md).toContain('| dapr-http vs. the floor (Dapr with a subscriber that only answers) | >= 0.85 | 0.8 (1000 vs. 1250 orders/s) | **missed** |')
    expect(md).toContain('N=1: 1000, N=2: –, N=3: –')
    expect(md).toContain('| Handler: Fastify /orders vs. DaprServer requests/s | >= 3 | 3.75 (30000 vs. 8000 requests/s) | **met** |')
    expect(md).not.toContain('`startup`')
  })

  it('draws an SVG with a bar per scenario', () => {
    const svg = benchSvg(results)
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true)
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true)
    for (const name of ['raw', 'floor', 'dapr-http', 'peer', 'handler-fastify', 'raw-500 p99', 'dapr-http-500 p50']) expect(svg).toContain(`>${name}</text>`)
    expect(svg).not.toMatch(/NaN|undefined/)
  })
})

describe('delivery log lines', () => {
  it('reads a processed order and its latency', () => {
    expect(parseLine('{"level":30,"orderId":12,"eventId":"e","latencyMs":1.5,"msg":"Subscriber received: orderId=12, ..."}'))
      .toEqual({ processed: { orderId: 12, latencyMs: 1.5 } })
  })

  it('reads a redelivery the ledger caught', () => {
    expect(parseLine('{"orderId":12,"msg":"Already processed orderId=12 (event e); acknowledging the redelivery"}')).toEqual({ redelivered: 12 })
  })

  it('skips every other line, broken ones included', () => {
    expect(parseLine('{"msg":"Server listening at http://127.0.0.1:7001"}')).toBeUndefined()
    expect(parseLine('Subscriber received: orderId=1 (pretty, not JSON)')).toBeUndefined()
    expect(parseLine('{"msg":"Subscriber received: orderId=x","orderId":"x"}')).toBeUndefined()
  })
})

describe('process roles', () => {
  it('names sidecars by app id and port, apps by script and port, and skips the rest', () => {
    expect(roleOf(['/root/.dapr/bin/daprd', '--app-id', 'order-processor', '--app-port', '7011'])).toBe('daprd order-processor:7011')
    expect(roleOf(['/root/.dapr/bin/daprd', '--app-id', 'checkout'])).toBe('daprd checkout')
    expect(roleOf(['node', '--import', 'tsx', '/repo/subscriber/src/server.ts'], 7001)).toBe('order-processor:7001')
    expect(roleOf(['node', '/repo/bench/floor-subscriber.mjs'], 7001)).toBe('floor-subscriber:7001')
    expect(roleOf(['node', '/repo/.dapr/build/subscriber/src/server.js'], 7001), 'compiled, as the bench runs it').toBe('order-processor:7001')
    expect(roleOf(['/usr/bin/node', '--import', 'tsx', '/repo/lab/run/multi-app-run.ts', 'x.yaml'])).toBe('runner')
    expect(roleOf(['bash', '-c', 'npm run load'])).toBeUndefined()
  })
})

describe('tunedPubsub', () => {
  it('sets concurrency and queueDepth on the lab component, keeping the rest', () => {
    const yaml = 'apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: orderpubsub\nspec:\n  type: pubsub.redis\n  version: v1\n  metadata:\n    - name: redisHost\n      value: localhost:6379\n    - name: concurrency\n      value: "10"\n'
    const out = tunedPubsub(yaml, { concurrency: 100, queueDepth: 500 })
    expect(out).toContain('value: localhost:6379')
    expect(out).toMatch(/name: concurrency\n\s+value: "100"/)
    expect(out).toMatch(/name: queueDepth\n\s+value: "500"/)
    expect(out.match(/name: concurrency/g)).toHaveLength(1)
  })
})
