// The delivery decision: what the order-processor does with one delivered event, and what
// it answers (SUCCESS, RETRY or DROP), whichever way the event came (a POST from the
// sidecar, a streaming subscription, an entry of a bulk delivery). Counted, logged and
// shown on the live view the same way for all of them.
import { EventEmitter } from 'node:events'
import type { CloudEventV1 } from 'cloudevents'
import { type Order, orderProblem } from '../order.ts'
import { deadLetterTopic, PRIORITY_ROUTE } from '../pubsub.ts'
import { alreadyProcessedLine, deadLetterLine, droppedLine, receivedLine, retryLine } from '../log-lines.ts'
import type { Ledger } from './ledger.ts'
import type { CounterName, Metrics } from './metrics.ts'
import type { FeedEvent } from './live.ts'

/** What the sidecar understands in a delivery answer (Dapr's subscriber contract). */
export type DeliveryStatus = 'SUCCESS' | 'RETRY' | 'DROP'

/** The few logger methods a delivery uses (pino's and Fastify's loggers have them). */
export interface DeliveryLog {
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
  error (obj: object, msg: string): void
}

/** What was found in a delivery: an order, or why there is none. */
export type Reading = { order: Order, event?: CloudEventV1<unknown> } | { problem: string, event?: CloudEventV1<unknown>, data?: unknown }

/** A reading of a delivery's data, with its CloudEvent envelope when there was one. */
export function readingOf (event: CloudEventV1<unknown> | undefined, data: unknown): Reading {
  if (typeof data === 'string') {
    return { event, data, problem: 'the order is a string, not a JSON object (was it published as JSON.stringify(order)?)' }
  }
  const problem = orderProblem(data)
  return problem === undefined ? { event, order: data as Order } : { event, data, problem }
}

/**
 * The key an event is remembered by: its CloudEvent id, which a redelivery keeps (a
 * CloudEvent is identified by source + id; Dapr sets the source to the publishing app).
 * Without an envelope, the orderId is all there is.
 */
function eventKey (kind: 'processed' | 'deadletter', topic: string, reading: Reading): string | undefined {
  if (reading.event) return `${kind}:${topic}:${reading.event.source}:${reading.event.id}`
  if ('order' in reading) return `${kind}:${topic}:order-${reading.order.orderId}`
  return undefined
}

/** orderId as a poison order carries it, for the logs: whatever it is, or '?'. */
function claimedOrderId (reading: Reading): string {
  if ('order' in reading) return String(reading.order.orderId)
  let { data } = reading
  if (typeof data === 'string') {
    try { data = JSON.parse(data) } catch { return '?' }
  }
  const id = (data !== null && typeof data === 'object') ? (data as Record<string, unknown>).orderId : undefined
  return id === undefined ? '?' : JSON.stringify(id)
}

/** The W3C trace id of the trace Dapr carried the event in (traceparent: 00-<trace id>-<span>-<flags>). */
function traceIdOf (event?: CloudEventV1<unknown>): string | undefined {
  const traceparent = (event as Record<string, unknown> | undefined)?.traceparent
  return typeof traceparent === 'string' ? traceparent.split('-')[1] : undefined
}

export interface DeliveryOptions {
  /** The orders topic; its dead-letter topic is derived from it (shared/pubsub.ts). */
  topic: string
  /**
   * The work done for each valid order, with the CloudEvent it came in. Throwing means
   * "failed for now": the order is answered RETRY and the broker delivers it again.
   */
  processOrder?: (order: Order, log: DeliveryLog, event?: CloudEventV1<unknown>) => Promise<void> | void
  ledger: Ledger
  metrics: Metrics
}

export type Deliveries = ReturnType<typeof createDeliveries>

export function createDeliveries ({ topic, processOrder = () => {}, ledger, metrics }: DeliveryOptions) {
  // Every outcome is counted, and shown on the live view (GET /) as it happens.
  const feed = new EventEmitter()
  const count = (name: CounterName, detail: { orderId?: unknown, reason?: string } = {}) => {
    metrics.counters[name].inc()
    if (name === 'received') return
    const event: FeedEvent = { kind: name, orderId: detail.orderId === undefined ? undefined : String(detail.orderId), reason: detail.reason, at: new Date().toISOString() }
    feed.emit('event', event)
  }

  /**
   * Deliveries on the orders topic, one or a batch (bulk subscribe): an answer for each.
   * Each valid order is processed, then all are recorded in one ledger call. `route` is
   * the HTTP route it came on, kept in the ledger (routing rules choose it).
   */
  async function orders (readings: Reading[], log: DeliveryLog, route?: string): Promise<DeliveryStatus[]> {
    const answers: DeliveryStatus[] = []
    const done: Array<{ at: number, order: Order, event?: CloudEventV1<unknown>, key: string }> = []
    const retry = (order: Order, eventId: string | undefined, err: unknown, why: string): DeliveryStatus => {
      // A failure is never turned into a silent SUCCESS: the order comes back.
      count('retried', { orderId: order.orderId, reason: why })
      log.error({ err, eventId, orderId: order.orderId }, retryLine(order.orderId, why))
      return 'RETRY'
    }
    for (const [at, reading] of readings.entries()) {
      count('received')
      const eventId = reading.event?.id
      if ('problem' in reading) {
        count('dropped', { orderId: claimedOrderId(reading), reason: reading.problem })
        log.warn({ eventId, reason: reading.problem }, droppedLine(claimedOrderId(reading), deadLetterTopic(topic), reading.problem))
        answers[at] = 'DROP'
        continue
      }
      try {
        await processOrder(reading.order, log, reading.event)
        done.push({ at, order: reading.order, event: reading.event, key: eventKey('processed', topic, reading)! })
      } catch (err) {
        answers[at] = retry(reading.order, eventId, err, (err as Error).message)
      }
    }
    if (done.length === 0) return answers
    // The commit point, and the only state call: an insert of every processed order that
    // fails for an event recorded before. Once recorded, an order counts as processed.
    const recorded = await ledger.record(done.map(({ order, event, key }) => ({
      key, value: { orderId: order.orderId, eventId: event?.id, topic, route, processedAt: new Date().toISOString() }
    }))).catch((err: Error) => done.map(() => err))
    for (const [i, { at, order, event, key }] of done.entries()) {
      const outcome = recorded[i]!
      const eventId = event?.id
      if (outcome instanceof Error) {
        answers[at] = retry(order, eventId, outcome, 'it could not be recorded as processed')
      } else if (outcome === 'known') {
        count('duplicates', { orderId: order.orderId })
        log.info({ eventId, orderId: order.orderId }, alreadyProcessedLine(order.orderId, eventId ?? key))
        answers[at] = 'SUCCESS'
      } else {
        count('processed', { orderId: order.orderId })
        // Same machine, same clock: the load generator's latency, to a fraction of a millisecond.
        const latencyMs = order.sentAt === undefined ? undefined : performance.timeOrigin + performance.now() - order.sentAt
        if (latencyMs !== undefined) metrics.endToEndSeconds.observe(latencyMs / 1000)
        log.info({ eventId, orderId: order.orderId, traceId: traceIdOf(event), latencyMs }, receivedLine(order, { priority: route === PRIORITY_ROUTE }))
        answers[at] = 'SUCCESS'
      }
    }
    return answers
  }

  /** One delivery on the orders topic. */
  const order = async (reading: Reading, log: DeliveryLog, route?: string): Promise<DeliveryStatus> => (await orders([reading], log, route))[0]!

  /**
   * Everything Dapr dead-lettered: orders answered DROP, and orders whose retries ran out.
   * Always acknowledged (the dead-letter topic has no dead-letter topic of its own); the
   * ledger only keeps a redelivered dead letter from being logged and counted twice.
   */
  async function deadLetter (reading: Reading, log: DeliveryLog): Promise<DeliveryStatus> {
    const eventId = reading.event?.id
    const key = eventKey('deadletter', topic, reading)
    try {
      const [outcome] = key === undefined ? [] : await ledger.record([{ key, value: { eventId, topic, deadLetteredAt: new Date().toISOString() } }])
      if (outcome instanceof Error) throw outcome
      if (outcome === 'known') return 'SUCCESS'
    } catch (err) {
      log.warn({ err, eventId }, 'The state store is unavailable; this dead letter may be logged twice')
    }
    const reason = 'problem' in reading ? reading.problem : 'processing kept failing until the retry policy gave up'
    const orderId = claimedOrderId(reading)
    count('deadLettered', { orderId, reason })
    const { deadLettered } = await metrics.counts()
    log.warn({ eventId, orderId, reason, deadLettered, traceId: traceIdOf(reading.event) },
      deadLetterLine(deadLettered, orderId, eventId, reason))
    return 'SUCCESS'
  }

  return { topic, feed, count, order, orders, deadLetter, metrics }
}
