import Fastify, { LogController, type FastifyBaseLogger, type FastifyRequest } from 'fastify'
import { HTTP, type CloudEvent, type CloudEventV1 } from 'cloudevents'
import { type Order, orderProblem } from '../../shared/order.ts'
import { ORDERS_ROUTE, subscriptions } from '../../shared/pubsub.ts'

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
    required: ['pubsubname', 'topic', 'route'],
    properties: { pubsubname: { type: 'string' }, topic: { type: 'string' }, route: { type: 'string' } }
  }
} as const

/** A body whose content type we have no parser for: answered DROP, never 415. */
class UnsupportedBody {
  constructor (readonly contentType: string) {}
}

type Reading = { order: Order, event?: CloudEventV1<unknown> } | { problem: string, event?: CloudEventV1<unknown> }

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
      const received = HTTP.toEvent({ headers, body }) as CloudEvent<unknown> | Array<CloudEvent<unknown>>
      if (Array.isArray(received)) return { problem: 'a batch of CloudEvents is not accepted on this route' }
      // toEvent fills in a missing id; validate() still insists on source and type.
      received.validate()
      event = received
    } catch (err) {
      const details = (err as { errors?: Array<{ message?: string }> }).errors?.map((e) => e.message).join(', ')
      return { problem: `not a valid CloudEvent: ${details || (err as Error).message}` }
    }
    data = event.data
  }
  if (typeof data === 'string') {
    return { event, problem: 'the order is a string, not a JSON object (was it published as JSON.stringify(order)?)' }
  }
  const problem = orderProblem(data)
  return problem === undefined ? { event, order: data as Order } : { event, problem }
}

export function buildApp (options: AppOptions) {
  const { topic, processOrder = () => {} } = options
  // One line per delivery (ours) says more than Fastify's two per request.
  const app = Fastify({ loggerInstance: options.logger, logController: new LogController({ disableRequestLogging: true }) })

  // Dapr posts application/cloudevents+json; Fastify only parses application/json out of
  // the box and answers 415 to the rest, which the sidecar redelivers forever.
  app.addContentTypeParser(/^application\/[\w.-]+\+json\b/, { parseAs: 'string' }, app.getDefaultJsonParser('error', 'ignore'))
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, _body, done) => {
    done(null, new UnsupportedBody(String(request.headers['content-type'] ?? 'none')))
  })

  // A delivery that can never be parsed is dropped on purpose: any 4xx/5xx would make
  // the sidecar deliver it again, forever.
  app.setErrorHandler((err: { statusCode?: number, message: string }, request, reply) => {
    if (request.routeOptions.url === ORDERS_ROUTE && (err.statusCode ?? 500) < 500) {
      request.log.warn({ reason: err.message }, `Dropping a delivery that cannot be read: ${err.message}`)
      return reply.code(200).send({ status: 'DROP' })
    }
    request.log.error({ err }, 'request failed')
    return reply.code(err.statusCode ?? 500).send({ error: err.message })
  })

  app.get('/dapr/subscribe', { schema: { response: { 200: subscriptionList } } }, async () => subscriptions(topic))

  app.get('/healthz', {
    schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } }
  }, async () => ({ status: 'ok' }))

  app.post(ORDERS_ROUTE, { schema: { response: { 200: deliveryAnswer } } }, async (request): Promise<{ status: DeliveryStatus }> => {
    const reading = readOrder(request)
    const eventId = reading.event?.id
    if ('problem' in reading) {
      request.log.warn({ eventId, reason: reading.problem }, `Dropping order: ${reading.problem}`)
      return { status: 'DROP' }
    }
    const { order } = reading
    request.log.info({ eventId, orderId: order.orderId },
      `Subscriber received: orderId=${order.orderId}, customerName=${order.customerName}, amount=${order.amount}, status=${order.status}`)
    try {
      await processOrder(order, request.log)
    } catch (err) {
      // A thrown error is never turned into a silent SUCCESS: the order comes back.
      request.log.error({ err, eventId, orderId: order.orderId }, `Processing orderId=${order.orderId} failed; asking Dapr to retry`)
      return { status: 'RETRY' }
    }
    return { status: 'SUCCESS' }
  })

  return app
}
