import { timingSafeEqual } from 'node:crypto'
import { EventEmitter } from 'node:events'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyRequest } from 'fastify'
import { CloudEvent, HTTP, type CloudEventV1 } from 'cloudevents'
import { type Order, orderProblem } from '../../shared/order.ts'
import { DEAD_LETTER_ROUTE, ORDERS_ROUTE, deadLetterTopic, subscriptions } from '../../shared/pubsub.ts'
import { memoryLedger, type Ledger } from './ledger.ts'
import { COUNTER_NAMES, createMetrics, type CounterName, type Metrics } from './metrics.ts'
import { registerLiveView, type FeedEvent } from './live.ts'
import { deadLetterLine, receivedLine } from '../../shared/log-lines.ts'

/** What the sidecar understands in a delivery answer (Dapr's subscriber contract). */
export type DeliveryStatus = 'SUCCESS' | 'RETRY' | 'DROP'

export interface AppOptions {
  /** Topic to subscribe to; the publisher uses the same one (see shared/pubsub.ts). */
  topic: string
  logger?: FastifyBaseLogger
  /**
   * The work done for each valid order. Throwing means "failed for now": the order is
   * answered RETRY and the broker delivers it again.
   */
  processOrder?: (order: Order, log: FastifyBaseLogger) => Promise<void> | void
  /** What was already processed (a Dapr state store in the running app). */
  ledger?: Ledger
  /** When set, every route but /healthz and /metrics demands it in the dapr-api-token header. */
  apiToken?: string
  /** Counters and the handler histogram (GET /metrics, GET /stats). */
  metrics?: Metrics
  /** Subscriptions are declared in subscriptions/*.yaml: GET /dapr/subscribe announces none. */
  declarative?: boolean
  /** The broker behind the pub/sub component, for the live view (asks the sidecar). */
  broker?: () => Promise<string | undefined>
}

/** What the order-processor has seen since it started (GET /stats); see metrics.ts. */
export type Counts = Record<CounterName, number>

const deliveryAnswer = {
  type: 'object',
  required: ['status'],
  properties: { status: { type: 'string', enum: ['SUCCESS', 'RETRY', 'DROP'] } }
} as const

const subscriptionList = {
  type: 'array',
  items: {
    type: 'object',
    required: ['pubsubname', 'topic', 'route'],
    properties: { pubsubname: { type: 'string' }, topic: { type: 'string' }, route: { type: 'string' }, deadLetterTopic: { type: 'string' } }
  }
} as const

const countsSchema = {
  type: 'object',
  required: COUNTER_NAMES,
  properties: Object.fromEntries(COUNTER_NAMES.map((k) => [k, { type: 'integer' }]))
}

/** A body whose content type we have no parser for: answered DROP, never 415. */
class UnsupportedBody {
  constructor (readonly contentType: string) {}
}

type Reading = { order: Order, event?: CloudEventV1<unknown> } | { problem: string, event?: CloudEventV1<unknown>, data?: unknown }

function structuredEvent (body: unknown): CloudEvent<unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new Error('the body is not a JSON object')
  return new CloudEvent(body as CloudEventV1<unknown>, false)
}

/**
 * Finds the order in a delivery: a structured CloudEvent (what Dapr sends), a binary-mode
 * CloudEvent (ce-* headers), or a plain JSON order. Says why when there is none.
 */
function readOrder (request: FastifyRequest): Reading {
  const { headers, body } = request
  if (body instanceof UnsupportedBody) return { problem: `unsupported content type "${body.contentType}"` }
  const contentType = String(headers['content-type'] ?? '')
  const isCloudEvent = contentType.startsWith('application/cloudevents') || headers['ce-specversion'] !== undefined

  let data: unknown = body
  let event: CloudEventV1<unknown> | undefined
  if (isCloudEvent) {
    try {
      // What Dapr sends, a structured event, is already parsed: build it directly, which is
      // twice as fast as HTTP.toEvent (that one creates, and drops, three errors with stack
      // traces on every call: the bench's profile). Binary mode and batches go through toEvent.
      const received = contentType.startsWith('application/cloudevents+json')
        ? structuredEvent(body)
        : HTTP.toEvent({ headers, body }) as CloudEvent<unknown> | Array<CloudEvent<unknown>>
      if (Array.isArray(received)) return { problem: 'a batch of CloudEvents is not accepted on this route' }
      // A missing id is filled in; validate() still insists on source and type.
      received.validate()
      event = received
    } catch (err) {
      const details = (err as { errors?: Array<{ message?: string }> }).errors?.map((e) => e.message).join(', ')
      return { problem: `not a valid CloudEvent: ${details || (err as Error).message}` }
    }
    data = event.data
  }
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

function sameToken (given: unknown, expected: string): boolean {
  if (typeof given !== 'string') return false
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

/**
 * A processOrder that fails for `ms` after the first order, as if a dependency were down
 * (SIMULATED_OUTAGE_MS): orders come back until the outage ends or the retry policy gives up.
 */
export function simulatedOutage (ms: number, now = Date.now): AppOptions['processOrder'] {
  let firstAt: number | undefined
  return () => {
    firstAt ??= now()
    if (now() - firstAt < ms) throw new Error('simulated outage: a dependency of the order-processor is down')
  }
}

export function buildApp (options: AppOptions) {
  const { topic, processOrder = () => {}, ledger = memoryLedger(), apiToken, metrics = createMetrics() } = options
  // Every outcome is counted, and shown on the live view (GET /) as it happens.
  const feed = new EventEmitter()
  const count = (name: CounterName, detail: { orderId?: unknown, reason?: string } = {}) => {
    metrics.counters[name].inc()
    if (name === 'received') return
    const event: FeedEvent = { kind: name, orderId: detail.orderId === undefined ? undefined : String(detail.orderId), reason: detail.reason, at: new Date().toISOString() }
    feed.emit('event', event)
  }
  // One line per delivery (ours) says more than Fastify's two per request.
  const app = Fastify({ loggerInstance: options.logger, logController: new LogController({ disableRequestLogging: true }) })

  // Dapr posts application/cloudevents+json; Fastify only parses application/json out of
  // the box and answers 415 to the rest, which the sidecar redelivers forever.
  app.addContentTypeParser(/^application\/[\w.-]+\+json\b/, { parseAs: 'string' }, app.getDefaultJsonParser('error', 'ignore'))
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, _body, done) => {
    done(null, new UnsupportedBody(String(request.headers['content-type'] ?? 'none')))
  })

  // With APP_API_TOKEN set, daprd sends it on every call; anybody else is refused.
  // /healthz and /metrics stay open for probes and scrapers, which cannot send Dapr's
  // token; they tell counts, never orders. A browser cannot send the header either: the
  // live view takes the token as ?token=.
  if (apiToken !== undefined) {
    app.addHook('onRequest', async (request, reply) => {
      const path = request.url.split('?')[0]
      if (path === '/healthz' || path === '/metrics') return
      const given = request.headers['dapr-api-token'] ?? ((path === '/' || path === '/events') ? (request.query as { token?: string }).token : undefined)
      if (sameToken(given, apiToken)) return
      // The path only: a query string may hold a token, right or wrong.
      request.log.warn({ path }, `Refused ${request.method} ${path}: no valid dapr-api-token header ` +
        '(if this is the sidecar, start it with the same APP_API_TOKEN as the app)')
      return reply.code(401).send({ error: 'a valid dapr-api-token header is required' })
    })
  }

  // A delivery that can never be parsed is dropped on purpose: any 4xx/5xx would make
  // the sidecar deliver it again, forever.
  app.setErrorHandler((err: { statusCode?: number, message: string }, request, reply) => {
    const route = request.routeOptions.url
    if ((route === ORDERS_ROUTE || route === DEAD_LETTER_ROUTE) && (err.statusCode ?? 500) < 500) {
      if (route === ORDERS_ROUTE) { count('received'); count('dropped', { reason: err.message }) }
      request.log.warn({ reason: err.message }, `Dropping a delivery that cannot be read: ${err.message}`)
      return reply.code(200).send({ status: 'DROP' })
    }
    request.log.error({ err }, 'request failed')
    return reply.code(err.statusCode ?? 500).send({ error: err.message })
  })

  app.get('/dapr/subscribe', { schema: { response: { 200: subscriptionList } } }, async () => options.declarative ? [] : subscriptions(topic))

  app.get('/healthz', {
    schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } }
  }, async () => ({ status: 'ok' }))

  app.get('/stats', { schema: { response: { 200: countsSchema } } }, async () => metrics.counts())

  app.get('/metrics', async (_request, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })

  app.post(ORDERS_ROUTE, { schema: { response: { 200: deliveryAnswer } } }, async (request) => {
    const done = metrics.handlerSeconds.startTimer()
    const answer = await handleOrder(request)
    done({ status: answer.status })
    return answer
  })

  async function handleOrder (request: FastifyRequest): Promise<{ status: DeliveryStatus }> {
    count('received')
    const reading = readOrder(request)
    const eventId = reading.event?.id
    const traceId = traceIdOf(reading.event)
    if ('problem' in reading) {
      count('dropped', { orderId: claimedOrderId(reading), reason: reading.problem })
      request.log.warn({ eventId, reason: reading.problem },
        `Dropping order ${claimedOrderId(reading)} to ${deadLetterTopic(topic)}: ${reading.problem}`)
      return { status: 'DROP' }
    }
    const { order } = reading
    const key = eventKey('processed', topic, reading)!
    const retry = (err: unknown, why: string): { status: DeliveryStatus } => {
      // A failure is never turned into a silent SUCCESS: the order comes back.
      count('retried', { orderId: order.orderId, reason: why })
      request.log.error({ err, eventId, orderId: order.orderId }, `Processing orderId=${order.orderId} failed (${why}); asking Dapr to retry`)
      return { status: 'RETRY' }
    }

    try {
      if (await ledger.has(key)) {
        count('duplicates', { orderId: order.orderId })
        request.log.info({ eventId, orderId: order.orderId }, `Already processed orderId=${order.orderId} (event ${eventId ?? key}); acknowledging the redelivery`)
        return { status: 'SUCCESS' }
      }
    } catch (err) {
      return retry(err, 'the state store cannot be read')
    }
    try {
      await processOrder(order, request.log)
    } catch (err) {
      return retry(err, (err as Error).message)
    }
    try {
      // The commit point: once recorded, a redelivery is acknowledged without processing.
      await ledger.record(key, { orderId: order.orderId, eventId, topic, processedAt: new Date().toISOString() })
    } catch (err) {
      return retry(err, 'it could not be recorded as processed')
    }
    count('processed', { orderId: order.orderId })
    // Same machine, same clock: the load generator's latency, to a fraction of a millisecond.
    const latencyMs = order.sentAt === undefined ? undefined : performance.timeOrigin + performance.now() - order.sentAt
    if (latencyMs !== undefined) metrics.endToEndSeconds.observe(latencyMs / 1000)
    request.log.info({ eventId, orderId: order.orderId, traceId, latencyMs },
      receivedLine(order))
    return { status: 'SUCCESS' }
  }

  // Everything Dapr dead-lettered: orders answered DROP, and orders whose retries ran out.
  // Always acknowledged (the dead-letter topic has no dead-letter topic of its own); the
  // ledger only keeps a redelivered dead letter from being logged and counted twice.
  app.post(DEAD_LETTER_ROUTE, { schema: { response: { 200: deliveryAnswer } } }, async (request): Promise<{ status: DeliveryStatus }> => {
    const reading = readOrder(request)
    const eventId = reading.event?.id
    const key = eventKey('deadletter', topic, reading)
    try {
      if (key !== undefined && await ledger.has(key)) return { status: 'SUCCESS' }
      if (key !== undefined) await ledger.record(key, { eventId, topic, deadLetteredAt: new Date().toISOString() })
    } catch (err) {
      request.log.warn({ err, eventId }, 'The state store is unavailable; this dead letter may be logged twice')
    }
    const reason = 'problem' in reading ? reading.problem : 'processing kept failing until the retry policy gave up'
    const orderId = claimedOrderId(reading)
    count('deadLettered', { orderId, reason })
    const { deadLettered } = await metrics.counts()
    request.log.warn({ eventId, orderId, reason, deadLettered, traceId: traceIdOf(reading.event) },
      deadLetterLine(deadLettered, orderId, eventId, reason))
    return { status: 'SUCCESS' }
  })

  registerLiveView(app, { feed, metrics, broker: options.broker, topic })
  return app
}
