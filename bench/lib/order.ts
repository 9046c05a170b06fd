// The order every scenario sends: a valid lab order (shared/order.ts) with the time it
// was sent (sentAt, which the handler turns into latencyMs) and padding to a realistic
// size (the protocol's ~1 KB). Extra properties are allowed by the order schema.
import type { Order } from '../../shared/order.ts'

export interface BenchOrder extends Order {
  sentAt: number
  padding: string
}

/** Now, in ms since the epoch with sub-ms precision: the same clock the handler reads. */
export function now (): number {
  return performance.timeOrigin + performance.now()
}

// A typical sentAt (13 integer digits, a fraction) so the size estimate holds for real ones.
const TYPICAL_SENT_AT = 1_800_000_000_000.1234

/** The order with this id, sent at `sentAt`, padded with `padding`. */
export function makeBenchOrder (orderId: number, padding: string, sentAt = now()): BenchOrder {
  return { orderId, customerName: `Customer ${orderId}`, amount: orderId * 10, status: 'Pending', sentAt, padding }
}

/**
 * The padding that makes an order about `bytes` long as JSON (ids up to 7 digits): as
 * many as the fields leave room for, none when they already take more.
 */
export function paddingFor (bytes: number): string {
  const bare = JSON.stringify(makeBenchOrder(1_000_000, '', TYPICAL_SENT_AT)).length
  return 'x'.repeat(Math.max(0, bytes - bare))
}
