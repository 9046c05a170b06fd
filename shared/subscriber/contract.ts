// Dapr's subscriber contract over HTTP, as a Fastify plugin: GET /dapr/subscribe, and the
// routes the sidecar delivers on (one order, a batch, a dead letter). Here a delivery is
// read; what is done with it, and the answer, are decided in delivery.ts alone.
//
// Every delivery is answered 200 with a status: any 4xx or 5xx makes the sidecar deliver it
// again, forever (README, "The delivery contract"), so a body that cannot be read is a reading
// with a problem like any other, which delivery.ts answers DROP.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { CloudEvent, HTTP, type CloudEventV1 } from 'cloudevents'
import { DEAD_LETTER_ROUTE, ORDERS_BULK_ROUTE, ORDERS_ROUTE, PRIORITY_ROUTE, subscriptions } from '../pubsub.ts'
import { readingOf, type Deliveries, type DeliveryLog, type Reading } from './delivery.ts'

export interface ContractOptions {
  topic: string
  deliveries: Deliveries
  /** The route its events come on (POST /orders unless said otherwise). */
  route?: string
  /**
   * Who announces the subscriptions: GET /dapr/subscribe (programmatic), or nobody here:
   * subscriptions/*.yaml (declarative), or the app's own stream (streaming).
   */
  subscriptions?: 'programmatic' | 'declarative' | 'streaming'
  /** Programmatic subscriptions ask for batches on POST /orders/bulk (bulk subscribe). */
  bulk?: boolean
  /** Programmatic subscriptions carry the routing rule (orders of 100 or more to /orders/priority). */
  routing?: boolean
}

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

/** What the sidecar posts on a bulk route; checked by the handler, never refused (see bulkEntries). */
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

/** A body that could not be parsed (not JSON, or a content type without a parser): why. */
class Unreadable {
  constructor (readonly problem: string) {}
}

function structuredEvent (body: unknown): CloudEvent<unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new Error('the body is not a JSON object')
  return new CloudEvent(body as CloudEventV1<unknown>, false)
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

/**
 * Finds the order in a delivery: a structured CloudEvent (what Dapr sends), a binary-mode
 * CloudEvent (ce-* headers), or a plain JSON order. Says why when there is none.
 */
function readOrder (request: FastifyRequest): Reading {
  const { headers, body } = request
  if (body instanceof Unreadable) return { problem: body.problem }
  const contentType = String(headers['content-type'] ?? '')
  const isCloudEvent = contentType.startsWith('application/cloudevents') || headers['ce-specversion'] !== undefined
  if (!isCloudEvent) return readingOf(undefined, body)
  let event: CloudEvent<unknown>
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
  return readingOf(event, event.data)
}

/**
 * The entries of a bulk delivery that can be answered: those with an entry id. What names
 * no entry (a body that is not a batch at all, an entry without an id) cannot be answered
 * DROP; the sidecar retries it until the retry policy gives up and dead-letters it (nothing
 * is lost). It is returned as a problem, for delivery.ts to log and count like any other.
 */
function bulkEntries (body: unknown): { entries: BulkEntry[], problem?: string } {
  if (body instanceof Unreadable) return { entries: [], problem: body.problem }
  const entries = (body as { entries?: unknown } | null)?.entries
  if (!Array.isArray(entries)) return { entries: [], problem: 'a bulk delivery without an entries array' }
  const named = entries.filter((e): e is BulkEntry => typeof (e as BulkEntry | null)?.entryId === 'string')
  const unnamed = entries.length - named.length
  return { entries: named, problem: unnamed > 0 ? `${unnamed} of ${entries.length} entries of a bulk delivery have no entryId` : undefined }
}

export const deliveryContract: FastifyPluginAsync<ContractOptions> = async (app, options) => {
  const { topic, deliveries } = options
  const { metrics } = deliveries
  const ordersRoute = options.route ?? ORDERS_ROUTE

  // Dapr posts application/cloudevents+json; Fastify only parses application/json out of
  // the box and answers 415 to the rest, which the sidecar redelivers forever. A body that
  // does not parse is kept as Unreadable, for the route to answer.
  const parseJson = app.getDefaultJsonParser('error', 'ignore')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser(/^application\/([\w.-]+\+)?json\b/, { parseAs: 'string' }, (request, body, done) => {
    parseJson(request, String(body), (err, value) => done(null, err ? new Unreadable(`the body is not valid JSON: ${err.message}`) : value))
  })
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, _body, done) => {
    done(null, new Unreadable(`unsupported content type "${String(request.headers['content-type'] ?? 'none')}"`))
  })

  /** The answer to a delivery on `route` whose body cannot be read at all. */
  const unreadable = async (route: string | undefined, problem: string, log: DeliveryLog) => {
    if (route === DEAD_LETTER_ROUTE) return { status: await deliveries.deadLetter({ problem }, log) }
    const status = await deliveries.order({ problem }, log, route)
    return route === ORDERS_BULK_ROUTE ? { statuses: [] } : { status }
  }
  // What Fastify refuses before a handler runs (a body over its size limit, say) is
  // answered like any unreadable delivery; a failure of the app itself stays a 500.
  app.setErrorHandler(async (err: { statusCode?: number, message: string }, request, reply) => {
    if ((err.statusCode ?? 500) >= 500) {
      request.log.error({ err }, 'request failed')
      return reply.code(err.statusCode ?? 500).send({ error: err.message })
    }
    return reply.code(200).send(await unreadable(request.routeOptions.url, `the body cannot be read: ${err.message}`, request.log))
  })

  app.get('/dapr/subscribe', { schema: { response: { 200: subscriptionList } } }, async () =>
    (options.subscriptions ?? 'programmatic') === 'programmatic' ? subscriptions(topic, { bulk: options.bulk, routing: options.routing, route: ordersRoute }) : [])

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
  // The schema documents the body; a body that fails it is still answered (attachValidation).
  app.post(ORDERS_BULK_ROUTE, { schema: { body: bulkDelivery, response: { 200: bulkAnswer } }, attachValidation: true }, async (request) => {
    const { entries, problem } = bulkEntries(request.body)
    if (problem !== undefined) await deliveries.order({ problem }, request.log, ORDERS_BULK_ROUTE)
    const done = metrics.handlerSeconds.startTimer()
    const statuses = await deliveries.orders(entries.map(readEntry), request.log, ORDERS_BULK_ROUTE)
    done({ status: 'bulk' })
    return { statuses: entries.map(({ entryId }, i) => ({ entryId, status: statuses[i]! })) }
  })

  // Everything Dapr dead-lettered (see delivery.ts): always acknowledged.
  app.post(DEAD_LETTER_ROUTE, { schema: { response: { 200: deliveryAnswer } } }, async (request) => {
    return { status: await deliveries.deadLetter(readOrder(request), request.log) }
  })
}
