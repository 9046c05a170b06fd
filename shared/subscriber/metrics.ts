// The order-processor's own counters, in Prometheus format on GET /metrics. The sidecars
// have theirs on their metrics port (see README, "Metrics").
import type { FastifyPluginAsync } from 'fastify'
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export const COUNTER_NAMES = ['received', 'processed', 'duplicates', 'retried', 'dropped', 'deadLettered'] as const
export type CounterName = typeof COUNTER_NAMES[number]

const HELP: Record<CounterName, string> = {
  received: 'Deliveries on /orders, redeliveries included',
  processed: 'Orders processed (recorded in the ledger)',
  duplicates: 'Redeliveries of an order already processed, acknowledged without processing',
  retried: 'Deliveries answered RETRY (processing failed for now)',
  dropped: 'Deliveries answered DROP (never valid); Dapr dead-letters them',
  deadLettered: 'Orders that arrived on the dead-letter topic'
}

export function createMetrics ({ process = false } = {}) {
  const registry = new Registry()
  // CPU, memory, event loop lag: for the running app, not for each app a test builds.
  if (process) collectDefaultMetrics({ register: registry })
  const counters = Object.fromEntries(COUNTER_NAMES.map((name) => [name, new Counter({
    // deadLettered -> orders_dead_lettered_total
    name: `orders_${name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}_total`,
    help: HELP[name],
    registers: [registry]
  })])) as Record<CounterName, Counter>
  const handlerSeconds = new Histogram({
    name: 'order_handler_seconds',
    help: 'Time to answer a delivery on /orders, by answer',
    labelNames: ['status'],
    // From sub-millisecond (a duplicate) to the 10 s delivery timeout of resiliency.yaml.
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry]
  })
  const endToEndSeconds = new Histogram({
    name: 'order_end_to_end_seconds',
    help: 'From the publisher sending an order (its sentAt) to the order processed',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
    registers: [registry]
  })
  return {
    registry,
    counters,
    handlerSeconds,
    endToEndSeconds,
    /** The counters as plain numbers (GET /stats). */
    async counts (): Promise<Record<CounterName, number>> {
      const values = await Promise.all(COUNTER_NAMES.map(async (name) => (await counters[name].get()).values[0]?.value ?? 0))
      return Object.fromEntries(COUNTER_NAMES.map((name, i) => [name, values[i]])) as Record<CounterName, number>
    }
  }
}

export type Metrics = ReturnType<typeof createMetrics>

const countsSchema = {
  type: 'object',
  required: COUNTER_NAMES,
  properties: Object.fromEntries(COUNTER_NAMES.map((k) => [k, { type: 'integer' }]))
}

/** GET /metrics (Prometheus text) and GET /stats (the counters as JSON). */
export const metricsRoutes: FastifyPluginAsync<{ metrics: Metrics }> = async (app, { metrics }) => {
  app.get('/stats', { schema: { response: { 200: countsSchema } } }, async () => metrics.counts())
  // Prometheus' text format: the schema says so, and the text is sent as it is.
  app.get('/metrics', { schema: { response: { 200: { type: 'string', description: 'Prometheus text exposition format' } } } }, async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()))
}
