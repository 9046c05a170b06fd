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
/** The checkout ended before it had published them all: how many Dapr accepted (orderId 1 to that, when nothing failed), and why. */
export const partlyAcceptedLine = (accepted: number, count: number, why: string): string => `Only ${accepted} of ${count} orders were accepted: ${why}.`
/** How many orders a checkout stopped by a signal (Ctrl+C, SIGTERM) had had accepted, from its lines. */
export const acceptedBeforeStopped = (lines: string[]): number | undefined => {
  const accepted = lines.map((l) => /Only (\d+) of \d+ orders were accepted: stopped by a signal\./.exec(l)?.[1]).find((n) => n !== undefined)
  return accepted === undefined ? undefined : Number(accepted)
}

/** A poison order the checkout sent on purpose (POISON_EVERY). */
export const poisonPublishedLine = (poison: object | string): string => `Published poison order: ${typeof poison === 'string' ? poison : JSON.stringify(poison)}`
export const isPoisonPublishedLine = (line: string): boolean => line.includes('Published poison order: ')

/** The checkout says how it publishes when it does not publish plainly. */
export const outboxLine = (store: string): string => `OUTBOX=true: each order is saved in ${store} and published by the same state transaction`
export const isOutboxLine = (line: string): boolean => line.includes('OUTBOX=true: ')
export const ttlLine = (seconds: number): string => `ORDER_TTL_SECONDS=${seconds}: an order not delivered within ${seconds} s expires, and Dapr drops it`
export const isTtlLine = (line: string): boolean => line.includes('ORDER_TTL_SECONDS=')

/** Why an order is answered DROP: `orderId` as the order claims it (JSON), or '?'. */
export const droppedLine = (orderId: string, deadLetterTopic: string, problem: string): string => `Dropping order ${orderId} to ${deadLetterTopic}: ${problem}`
/** Whether a line says the order with this orderId (as JSON: `"poison-1"`, `7`) was dropped; any order when none is given. */
export const isDroppedLine = (line: string, orderId?: string): boolean => line.includes(`Dropping order ${orderId ?? ''}`)

export const retryLine = (orderId: number, why: string): string => `Processing orderId=${orderId} failed (${why}); asking Dapr to retry`
export const isRetryLine = (line: string, orderId: number): boolean => line.includes(`Processing orderId=${orderId} failed`)

export const alreadyProcessedLine = (orderId: number, event: string): string => `Already processed orderId=${orderId} (event ${event}); acknowledging the redelivery`
/** The orderId of an `Already processed orderId=N ...` line, else undefined. */
export function alreadyProcessedOrderId (line: string): number | undefined {
  const id = /Already processed orderId=(\d+)/.exec(line)?.[1]
  return id === undefined ? undefined : Number(id)
}

/** A streaming subscription (shared/subscriber/streaming.ts) opened, or broke. */
export const streamOpenLine = (topic: string, grpcPort: number): string => `Streaming subscription to ${topic} is open (gRPC, port ${grpcPort})`
export const isStreamOpenLine = (line: string, topic: string): boolean => line.includes(`Streaming subscription to ${topic} is open `)
export const streamDownLine = (topic: string, why: string): string => `Streaming subscription to ${topic} is down (${why}); opening it again until the sidecar answers`
export const isStreamDownLine = (line: string, topic: string): boolean => line.includes(`Streaming subscription to ${topic} is down `)

/** The work of the fan-out's and the shop's subscribers. */
export const shippedLine = (order: Order): string => `Shipping label printed for orderId=${order.orderId} (${order.customerName})`
/** The orderId of a `Shipping label printed ...` line, else undefined. */
export function shippedOrderId (line: string): number | undefined {
  const id = /Shipping label printed for orderId=(\d+) /.exec(line)?.[1]
  return id === undefined ? undefined : Number(id)
}
export const billedLine = (order: Order): string => `Billed orderId=${order.orderId}: ${order.amount} for ${order.customerName}`
export const notifiedLine = (order: Order): string => `Notified ${order.customerName}: orderId=${order.orderId} is confirmed`
export const billReceivedLine = (bill: Order): string => `Bill received: orderId=${bill.orderId}, amount=${bill.amount}, status=${bill.status}`
export const isBillReceivedLine = (line: string): boolean => line.includes('Bill received: ')

/** The logger's name of instance n of --instances (shared/logger.ts): `order-processor#2`. */
export const instanceName = (app: string, n: number): string => `${app}#${n}`
/** Which instance of `app` wrote a pretty log line (`... (order-processor#2): ...`), if one did. */
export function instanceOf (line: string, app: string): number | undefined {
  const n = new RegExp(`\\(${app}#(\\d+)\\): `).exec(line)?.[1]
  return n === undefined ? undefined : Number(n)
}

// The lab's own lines about a run: the project's runner and lab:crash.

/** The console prefix of an app's or a sidecar's lines, as the Dapr CLI prints them. */
export const appPrefix = (appId: string): string => `== APP - ${appId} == `
export const sidecarPrefix = (appId: string): string => `== DAPR - ${appId} == `
export const sidecarRestartLine = (appId: string, how: string, log: string): string => `${sidecarPrefix(appId)}daprd exited (${how}) while running; restarting it. Its log: ${log}`
export const isSidecarRestartLine = (line: string, appId: string, how = 'SIGKILL'): boolean => line.includes(`${sidecarPrefix(appId)}daprd exited (${how}) while running; restarting it`)
export const appExitedLine = (appId: string, how: string | number): string => `Exited App (${appId}) with code ${how}`
export const isAppExitedLine = (line: string, appId: string): boolean => line.includes(`Exited App (${appId}) `)
/** A server a run started outlives it: another run going on uses it, and stops it when it ends (lab/run/servers.ts). */
export const handedOverLine = (server: string, heir: string, pid: number): string => `${server} stays up: ${heir} (pid ${pid}) uses it too, and stops it when it ends`
/** The server (its label) a line says was handed over to another run, else undefined. */
export const handedOverServer = (line: string): string | undefined => /^(?:\[lab\] )?(.+?) stays up: .* uses it too, and stops it when it ends$/.exec(line)?.[1]
export const crashKilledLine = (pid: number): string => `Killed the order-processor (pid ${pid}) with SIGKILL. Its sidecar stops delivering once its health check fails; the orders wait in the broker.`
export const isCrashKilledLine = (line: string): boolean => line.includes('Killed the order-processor ')
export const crashRestartedLine = (pid: number | undefined, seconds: number, log: string): string => `Started it again (pid ${pid}) after ${seconds} s; its log: ${log}`
export const isCrashRestartedLine = (line: string): boolean => line.includes('Started it again ')

/**
 * Lines of daprd's own (its Redis pub/sub component's), not the project's: the stream
 * entries whose delivery to the app failed (`Error processing Redis message <id>: ...`).
 * On a bulk subscription paused by the app health check, daprd 1.18.3 acknowledges such an
 * entry without delivering it (README, "Bulk subscribe").
 */
export const redisEntriesFailedInSidecar = (lines: string[]): string[] =>
  lines.flatMap((l) => /Error processing Redis message (\d+-\d+):/.exec(l)?.[1] ?? [])
