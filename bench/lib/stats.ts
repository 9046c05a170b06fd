// Pure numbers: percentiles, delivery accounting, rates. No I/O here, so the unit tests
// (test/unit/bench-stats.test.ts) can pin every edge case.

/**
 * Nearest-rank percentile (the smallest value with at least p% of the values at or below
 * it): a value that really occurred, never an interpolation between two, and stable for
 * the small samples of a quick run. `sorted` must be ascending; NaN when empty.
 */
export function percentile (sorted: ArrayLike<number>, p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, not ${p}`)
  const n = sorted.length
  if (n === 0) return Number.NaN
  const rank = Math.max(1, Math.ceil((p / 100) * n))
  return sorted[rank - 1]!
}

export interface LatencySummary { p50: number, p90: number, p99: number, max: number, mean: number, count: number }

/** p50/p90/p99 of latencies in ms (any order; the input is not modified). */
export function summarizeLatency (values: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(values).sort()
  let sum = 0
  for (const v of sorted) sum += v
  return {
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
    count: sorted.length
  }
}

export interface DeliveryCount {
  /** Orders the broker accepted (what can be lost). */
  accepted: number
  /** Distinct accepted orders the handler processed. */
  delivered: number
  /** Accepted orders never processed. */
  lost: number
  /** Extra processings of an order already processed (the same orderId processed twice). */
  duplicates: number
  /** Processed orders that were never accepted (a publish reported failed, yet it went through). */
  unexpected: number
}

/**
 * Delivery accounting by orderId: `accepted` are the ids the publisher was told were
 * accepted, `processed` how often the handler processed each id. A redelivery the ledger
 * caught is not in `processed` (it was acknowledged, not processed): that is the
 * at-least-once contract working, not a duplicate.
 */
export function countDeliveries (accepted: Iterable<number>, processed: ReadonlyMap<number, number>): DeliveryCount {
  const acceptedSet = new Set(accepted)
  let delivered = 0
  let duplicates = 0
  let unexpected = 0
  for (const [id, times] of processed) {
    if (times > 1) duplicates += times - 1
    if (acceptedSet.has(id)) delivered++
    else unexpected++
  }
  return { accepted: acceptedSet.size, delivered, lost: acceptedSet.size - delivered, duplicates, unexpected }
}

/** Events per second over a span in ms; 0 for an empty or zero-length span. */
export function ratePerSecond (count: number, spanMs: number): number {
  return spanMs > 0 ? (count * 1000) / spanMs : 0
}

/** a / b, rounded to 2 decimals; null when either side is missing or b is 0. */
export function ratio (a: number | null | undefined, b: number | null | undefined): number | null {
  if (a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return null
  return Math.round((a / b) * 100) / 100
}

/** Rounds for reports: 3 significant digits below 100, integers above. */
export function round (value: number | null | undefined): number | null {
  if (value == null || !Number.isFinite(value)) return null
  if (Math.abs(value) >= 100) return Math.round(value)
  return Number(value.toPrecision(3))
}
