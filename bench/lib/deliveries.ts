// What the subscribers processed, read from their JSON log lines as they are written.
// Every subscriber the bench runs (the lab's order-processor, the DaprServer peer, the
// bulk subscriber, the raw consumer) logs one line per processed order:
//   {"orderId":N,"eventId":"...","latencyMs":1.23,"msg":"Subscriber received: orderId=N, ..."}
// and one per redelivery its ledger caught ("Already processed orderId=N ..."). Reading
// the files (not a pipe) costs the processes under test nothing.
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { alreadyProcessedOrderId, receivedOrderId } from '../../shared/log-lines.ts'

export interface Processed {
  orderId: number
  latencyMs?: number
}

/** One log line, if it says an order was processed or a redelivery was caught. Pure. */
export function parseLine (line: string): { processed: Processed } | { redelivered: number } | undefined {
  // Cheap checks first: most lines of a run are one of these two, the rest are skipped.
  const received = receivedOrderId(line) !== undefined
  if (!received && alreadyProcessedOrderId(line) === undefined) return undefined
  let entry: { orderId?: unknown, latencyMs?: unknown }
  try {
    entry = JSON.parse(line.slice(line.indexOf('{'))) as typeof entry
  } catch {
    return undefined
  }
  if (typeof entry.orderId !== 'number') return undefined
  if (!received) return { redelivered: entry.orderId }
  return { processed: { orderId: entry.orderId, latencyMs: typeof entry.latencyMs === 'number' ? entry.latencyMs : undefined } }
}

/**
 * Tails every `*.log` file that appears in a folder (the runner writes one per app
 * instance) and keeps a tally: how often each orderId was processed, its latency, and
 * the redeliveries the ledgers caught.
 */
export class DeliveryLog {
  /** orderId -> times processed. */
  readonly processed = new Map<number, number>()
  /** orderId -> latency of its first processing, ms. */
  readonly latencyMs = new Map<number, number>()
  redelivered = 0
  private readonly offsets = new Map<string, number>()
  private readonly partial = new Map<string, string>()
  private readonly buffer = Buffer.alloc(1 << 20)

  constructor (private readonly dir: string, private readonly match: RegExp = /_app_.*\.log$|\.out$/) {}

  /** Reads what was appended since the last poll; returns the number of new processings. */
  poll (): number {
    if (!existsSync(this.dir)) return 0
    let fresh = 0
    for (const name of readdirSync(this.dir).filter((n) => this.match.test(n))) {
      const file = join(this.dir, name)
      let offset = this.offsets.get(file) ?? 0
      if (statSync(file).size <= offset) continue
      const fd = openSync(file, 'r')
      try {
        let text = this.partial.get(file) ?? ''
        for (let n; (n = readSync(fd, this.buffer, 0, this.buffer.length, offset)) > 0; offset += n) {
          text += this.buffer.toString('utf8', 0, n)
        }
        const lines = text.split('\n')
        this.partial.set(file, lines.pop()!)
        for (const line of lines) {
          const parsed = parseLine(line)
          if (parsed === undefined) continue
          if ('redelivered' in parsed) { this.redelivered++; continue }
          const { orderId, latencyMs } = parsed.processed
          this.processed.set(orderId, (this.processed.get(orderId) ?? 0) + 1)
          if (latencyMs !== undefined && !this.latencyMs.has(orderId)) this.latencyMs.set(orderId, latencyMs)
          fresh++
        }
      } finally {
        closeSync(fd)
      }
      this.offsets.set(file, offset)
    }
    return fresh
  }

  /** Distinct orderIds processed within [from, to]. */
  countIn (from: number, to: number): number {
    let n = 0
    for (const id of this.processed.keys()) if (id >= from && id <= to) n++
    return n
  }

  /** Processing counts of the ids within [from, to], for countDeliveries. */
  slice (from: number, to: number): Map<number, number> {
    const out = new Map<number, number>()
    for (const [id, times] of this.processed) if (id >= from && id <= to) out.set(id, times)
    return out
  }

  /** Latencies (ms) of the ids within [from, to]. */
  latenciesIn (from: number, to: number): number[] {
    const out: number[] = []
    for (const [id, ms] of this.latencyMs) if (id >= from && id <= to) out.push(ms)
    return out
  }
}
