import { timingSafeEqual } from 'node:crypto'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyRequest } from 'fastify'
import { CloudEvent, HTTP, type CloudEventV1 } from 'cloudevents'
import { DEAD_LETTER_ROUTE, ORDERS_BULK_ROUTE, ORDERS_ROUTE, PRIORITY_ROUTE, subscriptions } from '../../shared/pubsub.ts'
import { createDeliveries, readingOf, type Deliveries, type DeliveryOptions, type Reading } from './delivery.ts'
import { memoryLedger, type Ledger } from './ledger.ts'
import { COUNTER_NAMES, createMetrics, type CounterName, type Metrics } from './metrics.ts'
import { registerLiveView } from './live.ts'

export type { DeliveryStatus } from './delivery.ts'

export interface AppOptions {
  /** Topic to subscribe to; the publisher uses the same one (see shared/pubsub.ts). */
  topic: string
  /** The route its events come on (POST /orders unless said otherwise). */
  route?: string
  logger?: FastifyBaseLogger
  /** The work done for each valid order (see delivery.ts). */
  processOrder?: DeliveryOptions['processOrder']
  /** What was already processed (a Dapr state store in the running app). */
  ledger?: Ledger
  /** When set, every route but /healthz and /metrics demands it in the dapr-api-token header. */
  apiToken?: string
  /** Counters and the handler histogram (GET /metrics, GET /stats). */
  metrics?: Metrics
  /**
   * The delivery decisions, when something else delivers too (a streaming subscription):
   * then they share counters, ledger and live view. Made from the options above otherwise.
   */
  deliveries?: Deliveries
  /**
   * Who announces the subscriptions: GET /dapr/subscribe (programmatic), or nobody here:
   * subscriptions/*.yaml (declarative), or the app's own stream (streaming).
   */
  subscriptions?: 'programmatic' | 'declarative' | 'streaming'
  /** Programmatic subscriptions ask for batches on POST /orders/bulk (bulk subscribe). */
  bulk?: boolean
  /** Programmatic subscriptions carry the routing rule (orders of 100 or more to /orders/priority). */
  routing?: boolean
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
    required: ['pubsubname', 'topic'],
    properties: {
      pubsubname: { type: 'string' },
      topic: { type: 'string' },
      route: { type: 'string' },
      routes: {
        type: 'object',
        required: ['default'],
        properties: {
          rules: { type: 'array', items: { type: 'object', required: ['match', 'path'], properties: { match: { type: 'string' }, path: { type: 'string' } } } },
          default: { type: 'string' }
        }
      },
      deadLetterTopic: { type: 'string' },
      bulkSubscribe: { type: 'object', properties: { enabled: { type: 'boolean' }, maxMessagesCount: { type: 'integer' }, maxAwaitDurationMs: { type: 'integer' } } }
    }
  }
} as const

const bulkDelivery = {
  type: 'object',
  required: ['entries'],
  properties: {
    entries: {
      type: 'array',
      items: { type: 'object', required: ['entryId'], properties: { entryId: { type: 'string' }, contentType: { type: 'string' } } }
    }
  }
} as const

const bulkAnswer = {
  type: 'object',
  required: ['statuses'],
  properties: {
    statuses: { type: 'array', items: { type: 'object', required: ['entryId', 'status'], properties: { entryId: { type: 'string' }, status: deliveryAnswer.properties.status } } }
  }
} as const

interface BulkEntry { entryId: string, event?: unknown, contentType?: string }

const countsSchema = {
  type: 'object',
  required: COUNTER_NAMES,
  properties: Object.fromEntries(COUNTER_NAMES.map((k) => [k, { type: 'integer' }]))
}

/** A body whose content type we have no parser for: answered DROP, never 415. */
class UnsupportedBody {
  constructor (readonly contentType: string) {}
}

/** An entry of a bulk delivery: its CloudEvent (what Dapr sends), or the raw payload. */
function readEntry (entry: BulkEntry): Reading {
  if (!String(entry.contentType ?? '').startsWith('application/cloudevents')) return readingOf(undefined, entry.event)
  try {
    const event = structuredEvent(typeof entry.event === 'string' ? JSON.parse(entry.event) : entry.event)
    event.validate()
    return readingOf(event, event.data)
  } catch (err) {
    return { problem: `not a valid CloudEvent: ${(err as Error).message}`, data: entry.event }
  }
}

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
  return readingOf(event, data)
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
  const { topic, apiToken } = options
  const ordersRoute = options.route ?? ORDERS_ROUTE
  const deliveries = options.deliveries ??
    createDeliveries({ topic, processOrder: options.processOrder, ledger: options.ledger ?? memoryLedger(), metrics: options.metrics ?? createMetrics() })
  const { count, feed, metrics } = deliveries
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
    const onOrders = route === ordersRoute || route === PRIORITY_ROUTE
    if ((onOrders || route === DEAD_LETTER_ROUTE) && (err.statusCode ?? 500) < 500) {
      if (onOrders) { count('received'); count('dropped', { reason: err.message }) }
      request.log.warn({ reason: err.message }, `Dropping a delivery that cannot be read: ${err.message}`)
      return reply.code(200).send({ status: 'DROP' })
    }
    request.log.error({ err }, 'request failed')
    return reply.code(err.statusCode ?? 500).send({ error: err.message })
  })

  app.get('/dapr/subscribe', { schema: { response: { 200: subscriptionList } } }, async () => (options.subscriptions ?? 'programmatic') === 'programmatic' ? subscriptions(topic, { bulk: options.bulk, routing: options.routing, route: ordersRoute }) : [])

  app.get('/healthz', {
    schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } }
  }, async () => ({ status: 'ok' }))

  app.get('/stats', { schema: { response: { 200: countsSchema } } }, async () => metrics.counts())

  app.get('/metrics', async (_request, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })

  // One order: on the default route, or on the one a routing rule chose. Served whatever
  // the configuration, as declarative subscriptions may carry the rule.
  for (const route of [ordersRoute, PRIORITY_ROUTE]) {
    app.post(route, { schema: { response: { 200: deliveryAnswer } } }, async (request) => {
      const done = metrics.handlerSeconds.startTimer()
      const status = await deliveries.order(readOrder(request), request.log, route)
      done({ status })
      return { status }
    })
  }

  // A batch (bulk subscribe): a status per entry, the ledger written once for all of them.
  app.post(ORDERS_BULK_ROUTE, { schema: { body: bulkDelivery, response: { 200: bulkAnswer } } }, async (request) => {
    const { entries } = request.body as { entries: BulkEntry[] }
    const done = metrics.handlerSeconds.startTimer()
    const statuses = await deliveries.orders(entries.map(readEntry), request.log, ORDERS_BULK_ROUTE)
    done({ status: 'bulk' })
    return { statuses: entries.map(({ entryId }, i) => ({ entryId, status: statuses[i]! })) }
  })

  // Everything Dapr dead-lettered (see delivery.ts): always acknowledged.
  app.post(DEAD_LETTER_ROUTE, { schema: { response: { 200: deliveryAnswer } } }, async (request) => {
    return { status: await deliveries.deadLetter(readOrder(request), request.log) }
  })

  registerLiveView(app, { feed, metrics, broker: options.broker, topic })
  return app
}
