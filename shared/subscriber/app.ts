// A subscriber app of the lab (the order-processor, shipping, the shop's services), built
// from the kit's plugins: the API token, Dapr's delivery contract, metrics, the live view
// and a health route. Built without a port, so tests can use app.inject(); serve.ts makes
// it a process.
import Fastify, { LogController, type FastifyBaseLogger } from 'fastify'
import { deliveryContract, type ContractOptions } from './contract.ts'
import { createDeliveries, type Deliveries, type DeliveryOptions } from './delivery.ts'
import { memoryLedger, type Ledger } from './ledger.ts'
import { liveView } from './live.ts'
import { createMetrics, metricsRoutes, type CounterName, type Metrics } from './metrics.ts'
import { apiToken } from './token.ts'

export type { DeliveryStatus } from './delivery.ts'

export interface AppOptions extends Omit<ContractOptions, 'deliveries'> {
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
  /** The broker behind the pub/sub component, for the live view (asks the sidecar). */
  broker?: () => Promise<string | undefined>
}

/** What the order-processor has seen since it started (GET /stats); see metrics.ts. */
export type Counts = Record<CounterName, number>

const health = { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } as const

export function buildApp (options: AppOptions) {
  const { topic } = options
  const deliveries = options.deliveries ??
    createDeliveries({ topic, processOrder: options.processOrder, ledger: options.ledger ?? memoryLedger(), metrics: options.metrics ?? createMetrics() })
  // One line per delivery (delivery.ts) says more than Fastify's two per request.
  const app = Fastify({ loggerInstance: options.logger, logController: new LogController({ disableRequestLogging: true }) })
  if (options.apiToken !== undefined) app.register(apiToken, { token: options.apiToken })
  app.register(deliveryContract, { topic, deliveries, route: options.route, subscriptions: options.subscriptions, bulk: options.bulk, routing: options.routing })
  app.register(metricsRoutes, { metrics: deliveries.metrics })
  app.register(liveView, { feed: deliveries.feed, metrics: deliveries.metrics, broker: options.broker, topic })
  app.get('/healthz', { schema: health }, async () => ({ status: 'ok' }))
  return app
}
