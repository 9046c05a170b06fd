// Reports as text: the load tool's summary, the bench's Markdown table and its SVG chart.
// Pure functions of the results (unit-tested in test/unit/bench-report.test.ts).
import type { Measurement } from './measure.ts'
import type { ProcUsage } from './procs.ts'
import type { BenchResults, ScenarioResult } from './results.ts'

/** A number for a table: '–' when missing, 3 significant digits below 100, integers above. */
export function fmt (value: number | null | undefined, digits = 3): string {
  if (value == null || !Number.isFinite(value)) return '–'
  if (Math.abs(value) >= 100 || Number.isInteger(value)) return String(Math.round(value))
  return String(Number(value.toPrecision(digits)))
}

function table (header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) => cells.map((c, i) => i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)).join('  ').trimEnd()
  return [line(header), ...rows.map(line)].join('\n')
}

/** One row per process: CPU seconds, per 1,000 orders, RSS now and at its peak. */
export function processTable (processes: ProcUsage[]): string {
  return table(
    ['process', 'CPU s', 'CPU s / 1k orders', 'RSS MB', 'peak RSS MB'],
    processes.map((p) => [p.name, fmt(p.cpuS), fmt(p.cpuSPer1k), fmt(p.rssEndMb), fmt(p.peakRssMb)])
  )
}

/** The verdict on delivery: nothing lost, nothing processed twice. */
export function verdict (m: Pick<Measurement, 'lost' | 'duplicates' | 'failed' | 'unexpected'>): { ok: boolean, text: string } {
  const problems = [
    m.lost ? `${m.lost} lost` : '',
    m.duplicates ? `${m.duplicates} processed twice` : '',
    m.failed ? `${m.failed} not accepted by Dapr` : '',
    m.unexpected ? `${m.unexpected} processed though their publish failed` : ''
  ].filter(Boolean)
  return problems.length === 0
    ? { ok: true, text: 'OK: every accepted order was processed exactly once.' }
    : { ok: false, text: `FAILED: ${problems.join(', ')}.` }
}

export interface LoadDescription {
  count: number
  payload: number
  rate: number
  concurrency: number
  bulk: number
  protocol: string
  instances: number
  bulkSubscribe: boolean
  topic: string
}

export function describeLoad (d: LoadDescription): string {
  const pace = d.rate > 0 ? `at ${d.rate}/s` : 'unthrottled'
  const how = d.bulk > 1 ? `publishBulk of ${d.bulk}` : 'publish'
  const subscribers = d.bulkSubscribe ? 'the bulk subscriber' : `${d.instances} order-processor${d.instances > 1 ? 's' : ''}`
  return `${d.count} orders of ${d.payload} B, ${pace}, ${d.concurrency} in flight, ${how} over ${d.protocol.toUpperCase()}, to ${subscribers} (topic ${d.topic})`
}

export function formatLoadReport (d: LoadDescription, m: Measurement): string {
  const l = m.latency
  return [
    `Load: ${describeLoad(d)}`,
    '',
    table(['', ''], [
      ['sent', String(m.sent)],
      ['accepted', String(m.accepted)],
      ['delivered', String(m.delivered)],
      ['lost', String(m.lost)],
      ['duplicates', String(m.duplicates)],
      ['redeliveries caught by the ledger', String(m.redelivered)]
    ]).split('\n').slice(1).join('\n'),
    '',
    `orders/s: ${fmt(m.deliveredPerS)} delivered (first send to last processed, ${fmt(m.durationS)} s); ${fmt(m.publishedPerS)} accepted by Dapr while publishing`,
    `end-to-end latency (publish -> handler): p50 ${fmt(l.p50)} ms, p90 ${fmt(l.p90)} ms, p99 ${fmt(l.p99)} ms, max ${fmt(l.max)} ms`,
    '',
    processTable(m.processes),
    '(CPU over the measurement; peak RSS is since each process started, Redis included)',
    ...(m.errors.length ? ['', 'First errors:', ...m.errors.map((e) => `  ${e}`)] : []),
    '',
    verdict(m).text
  ].join('\n')
}

// --- the bench's table and chart --------------------------------------------------------

const md = (cells: Array<string | number | null | undefined>) => `| ${cells.map((c) => c == null ? '–' : String(c)).join(' | ')} |`
const yesNo = (met: boolean | null) => met === null ? 'not measured' : met ? '**met**' : '**missed**'

/** Machine and run in one line, for the table's caption and the chart's. */
export function machineLine (r: BenchResults): string {
  const m = r.machine
  return `${r.date.slice(0, 10)}, commit ${r.commit}, ${r.quick ? 'quick run' : 'full run'} (${r.duration_s} s) on ${m.cpu}, ${m.cores} cores, ${m.memory_gb} GB, ` +
    `${m.os}, Node ${m.node}, daprd ${m.daprd}, Redis ${m.redis}`
}

/** The Markdown report: scenarios, the scaling curve, the goals, and the soak's cost per process. */
export function benchMarkdown (r: BenchResults): string {
  const lines = [
    `### Benchmark: ${machineLine(r)}`,
    '',
    md(['scenario', 'orders/s', 'p50 ms', 'p90 ms', 'p99 ms', 'lost', 'dup.', '× raw', '× floor', 'status', 'what']),
    md(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---', '---']),
    ...r.scenarios.filter((s) => s.group !== 'startup').map((s) => md([
      `\`${s.name}\``, fmt(s.delivered_per_s), fmt(s.p50_ms), fmt(s.p90_ms), fmt(s.p99_ms), s.lost, s.duplicates,
      s.ratio_to_raw == null ? '' : fmt(s.ratio_to_raw), s.ratio_to_floor == null ? '' : fmt(s.ratio_to_floor), s.status === 'ok' ? 'ok' : `**failed**${s.note ? `: ${s.note}` : ''}`, s.description
    ])),
    '',
    '`handler-*` rows count HTTP requests/s and request latency; every other row counts orders processed per second and end-to-end latency (publish → handler).'
  ]
  const curve = [1, 2, 3].map((n) => r.scenarios.find((s) => s.name === (n === 1 ? 'dapr-http' : `dapr-http-x${n}`)))
  if (curve.some((s) => s !== undefined)) {
    lines.push('', `Scaling out (dapr-http, N order-processors under one app id): ${curve.map((s, i) => `N=${i + 1}: ${fmt(s?.delivered_per_s)}`).join(', ')} orders/s.`)
  }
  lines.push('', md(['goal', 'target', 'measured', 'verdict']), md(['---', '---', '---', '---']),
    ...r.goals.map((g) => md([g.goal, g.target, g.measured, yesNo(g.met)])))
  const soak = r.scenarios.find((s) => s.name === 'soak')
  if (soak?.processes?.length) {
    lines.push('', `Soak (${fmt(soak.rate)} orders/s, ${fmt(soak.delivered)} orders): cost per process`, '',
      md(['process', 'CPU s / 1k orders', 'RSS start MB', 'RSS end MB', 'peak RSS MB']), md(['---', '---:', '---:', '---:', '---:']),
      ...soak.processes.map((p) => md([p.name, fmt(p.cpuSPer1k), fmt(p.rssStartMb), fmt(p.rssEndMb), fmt(p.peakRssMb)])))
  }
  return `${lines.join('\n')}\n`
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

interface Bar { label: string, value: number | null, color: string }

/** One panel of horizontal bars at (0, y); returns its SVG and height. Log scale for spreads over decades. */
function barPanel (title: string, bars: Bar[], y: number, { width = 760, log = false, unit = '' } = {}): { svg: string, height: number } {
  const rowH = 20
  const left = 190
  const plotW = width - left - 90
  const values = bars.map((b) => b.value ?? 0).filter((v) => v > 0)
  const max = Math.max(1, ...values)
  // Half the smallest value as the origin, so the smallest bar is still seen.
  const min = log ? Math.min(max / 10, ...values) / 2 : 0
  const scale = (v: number) => {
    if (v <= 0) return 0
    return log ? Math.max(2, (Math.log10(v / min) / Math.log10(max / min)) * plotW) : (v / max) * plotW
  }
  const parts = [`<text x="0" y="${y + 14}" font-weight="bold">${esc(title)}</text>`]
  bars.forEach((b, i) => {
    const top = y + 24 + i * rowH
    const w = b.value == null ? 0 : scale(b.value)
    parts.push(
      `<text x="${left - 8}" y="${top + 14}" text-anchor="end">${esc(b.label)}</text>`,
      `<rect x="${left}" y="${top + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="${b.color}"/>`,
      `<text x="${left + w + 6}" y="${top + 14}">${b.value == null ? 'n/a' : `${esc(fmt(b.value))}${unit}`}</text>`
    )
  })
  return { svg: parts.join('\n'), height: 24 + bars.length * rowH + 16 }
}

/** The chart: throughput per scenario, latency at fixed rates (log scale), handler requests/s. */
export function benchSvg (r: BenchResults): string {
  const width = 760
  const by = (name: string) => r.scenarios.find((s) => s.name === name)
  const color = (s?: ScenarioResult) => s?.status === 'failed' ? '#c0392b' : s?.group === 'raw' ? '#7f8c8d' : s?.group === 'floor' ? '#85c1e9' : s?.group === 'peer' ? '#e67e22' : '#2e86c1'
  const throughput = r.scenarios.filter((s) => ['raw', 'floor', 'dapr', 'peer', 'scale'].includes(s.group))
    .map((s) => ({ label: s.name, value: s.delivered_per_s, color: color(s) }))
  const latency = r.scenarios.filter((s) => s.group === 'latency').flatMap((s) => [
    { label: `${s.name.replace('latency-', '')} p50`, value: s.p50_ms, color: s.name.includes('raw') ? '#95a5a6' : '#5dade2' },
    { label: `${s.name.replace('latency-', '')} p99`, value: s.p99_ms, color: s.name.includes('raw') ? '#7f8c8d' : '#2e86c1' }
  ])
  const handler = ['handler-fastify', 'handler-daprserver'].map((n) => by(n)).filter((s) => s !== undefined)
    .map((s) => ({ label: s.name, value: s.delivered_per_s, color: s.name.endsWith('fastify') ? '#2e86c1' : '#e67e22' }))
  const m = r.machine
  let y = 48
  const panels: string[] = []
  for (const [title, bars, opts] of [
    ['Orders processed per second (grey: raw Redis, light blue: the floor, orange: DaprServer peer, red: failed)', throughput, {}],
    ['End-to-end latency at fixed rates, ms (log scale)', latency, { log: true, unit: ' ms' }],
    ['Handler alone: requests per second', handler, {}]
  ] as Array<[string, Bar[], { log?: boolean, unit?: string }]>) {
    if (bars.length === 0) continue
    const panel = barPanel(title, bars, y, { width, ...opts })
    panels.push(panel.svg)
    y += panel.height + 10
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="0" y="16" font-size="13" font-weight="bold">Benchmark ${esc(r.date.slice(0, 10))}, commit ${esc(r.commit)}, ${r.quick ? 'quick' : 'full'} run</text>`,
    `<text x="0" y="32">${esc(`${m.cpu}, ${m.cores} cores, ${m.memory_gb} GB, ${m.os}, Node ${m.node}, daprd ${m.daprd}, Redis ${m.redis}`)}</text>`,
    ...panels,
    '</svg>',
    ''
  ].join('\n')
}
