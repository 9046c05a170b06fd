// The lab's human-readable log lines, the ones people read and the tests, the checks
// (`npm run lab:check`) and the benchmark count. Each has its formatter here, used where
// the line is written, and its parser beside it, so the two cannot drift apart.
import type { Order } from './order.ts'

export const publishedLine = (order: unknown): string => `Published data: ${JSON.stringify(order)}`
export const isPublishedLine = (line: string): boolean => line.includes('Published data: ')

/** `priority`: the order came on the route a routing rule chose (PRIORITY_ROUTE). */
export const receivedLine = (order: Order, { priority = false } = {}): string =>
  `Subscriber received: orderId=${order.orderId}, customerName=${order.customerName}, amount=${order.amount}, status=${order.status}${priority ? ' [priority]' : ''}`
export const isPriorityLine = (line: string): boolean => /Subscriber received: .* \[priority\]/.test(line)
/** The orderId of a `Subscriber received: ...` line, else undefined. */
export function receivedOrderId (line: string): number | undefined {
  const id = /Subscriber received: orderId=(\d+),/.exec(line)?.[1]
  return id === undefined ? undefined : Number(id)
}
/** The orderIds of every `Subscriber received: ...` line among `lines`, in order. */
export const receivedOrderIds = (lines: string[]): number[] => lines.flatMap((l) => receivedOrderId(l) ?? [])

export const deadLetterLine = (n: number, orderId: unknown, eventId: string | undefined, reason: string): string =>
  `Dead letter #${n}: orderId=${String(orderId)} (event ${eventId ?? 'none'}): ${reason}`
export const isDeadLetterLine = (line: string): boolean => /Dead letter #\d+: orderId=/.test(line)

export const allAcceptedLine = (count: number): string => `All ${count} orders were accepted by Dapr.`
