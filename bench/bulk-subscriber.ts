// Bulk subscribe, for the dapr-bulk scenario: the sidecar hands the app up to
// `maxMessagesCount` orders in one POST, and waits at most `maxAwaitDurationMs` for a batch
// to fill. The lab's order-processor takes one CloudEvent per request (shared/subscriber/contract.ts
// answers a batch with DROP), so this is a small Fastify subscriber of the bench's own with
// the same work per order, batched: validate each (orderProblem), look the whole batch up in
// the ledger with one bulk get, record the new ones with one save (first-write each,
// 7-day TTL, the keys the order-processor uses), log one JSON line per order, and answer
// a status per entry.
//
// Redis has no bulk subscribe of its own; Dapr's default bulk subscriber fills a batch
// from the component's workers, each blocked until its batch is answered. So a batch can
// never hold more than the component's `concurrency`, and a batch that does not fill
// waits the full await duration: the latency trade-off (see README, "Load and benchmark").
//
// Env: ORDERS_TOPIC, APP_PORT, DAPR_HTTP_PORT (from the runner), BULK_MAX_MESSAGES,
// BULK_MAX_AWAIT_MS.
import Fastify from 'fastify'
import { StateConcurrencyEnum, StateConsistencyEnum } from '@dapr/dapr'
import { orderProblem, type Order } from '../shared/order.ts'
import { PUBSUB_NAME, STATE_STORE_NAME } from '../shared/pubsub.ts'
import { createClient } from '../shared/dapr-client.ts'
import { createLogger } from '../shared/logger.ts'
import { receivedLine } from '../shared/log-lines.ts'

interface BulkEntry { entryId: string, event: unknown, contentType?: string }
interface CloudEventLike { id?: string, source?: string, data?: unknown }
type Status = 'SUCCESS' | 'RETRY' | 'DROP'

const topic = process.env.ORDERS_TOPIC!
const port = Number(process.env.APP_PORT)
const maxMessagesCount = Number(process.env.BULK_MAX_MESSAGES ?? 100)
const maxAwaitDurationMs = Number(process.env.BULK_MAX_AWAIT_MS ?? 20)
const TTL_SECONDS = String(7 * 24 * 3600)

const log = createLogger({ logLevel: 'info', logFormat: 'json' }, 'bulk-subscriber')
const client = createClient({ daprHost: '127.0.0.1', daprHttpPort: Number(process.env.DAPR_HTTP_PORT), daprApiToken: process.env.DAPR_API_TOKEN || undefined })
const app = Fastify({ bodyLimit: 64 << 20 })
app.addContentTypeParser(/^application\/[\w.-]+\+json\b/, { parseAs: 'string' }, app.getDefaultJsonParser('error', 'ignore'))

app.get('/healthz', async () => ({ status: 'ok' }))
app.get('/dapr/subscribe', async () => [{
  pubsubname: PUBSUB_NAME,
  topic,
  route: '/orders-bulk',
  bulkSubscribe: { enabled: true, maxMessagesCount, maxAwaitDurationMs }
}])

app.post('/orders-bulk', async (request) => {
  const entries = (request.body as { entries?: BulkEntry[] }).entries ?? []
  const statuses: Array<{ entryId: string, status: Status }> = []
  const fresh: Array<{ entryId: string, key: string, order: Order & { sentAt?: number }, eventId?: string }> = []
  for (const entry of entries) {
    const event = (typeof entry.event === 'string' ? JSON.parse(entry.event) : entry.event) as CloudEventLike
    const problem = orderProblem(event.data)
    if (problem !== undefined) {
      log.warn({ eventId: event.id, reason: problem }, `Dropping an order: ${problem}`)
      statuses.push({ entryId: entry.entryId, status: 'DROP' })
      continue
    }
    fresh.push({ entryId: entry.entryId, key: `processed:${topic}:${event.source}:${event.id}`, order: event.data as Order, eventId: event.id })
  }
  if (fresh.length === 0) return { statuses }
  try {
    const known = await client.state.getBulk(STATE_STORE_NAME, fresh.map((f) => f.key), { parallelism: 10 }) as Array<{ key: string, data?: unknown }>
    const recorded = new Set(known.filter((k) => k.data !== undefined && k.data !== '').map((k) => k.key))
    const todo = fresh.filter((f) => !recorded.has(f.key))
    for (const f of fresh) {
      if (!recorded.has(f.key)) continue
      log.info({ eventId: f.eventId, orderId: f.order.orderId }, `Already processed orderId=${f.order.orderId}`)
      statuses.push({ entryId: f.entryId, status: 'SUCCESS' })
    }
    if (todo.length > 0) {
      const processedAt = new Date().toISOString()
      const { error } = await client.state.save(STATE_STORE_NAME, todo.map((f) => ({
        key: f.key,
        value: { orderId: f.order.orderId, eventId: f.eventId, topic, processedAt },
        options: { concurrency: StateConcurrencyEnum.CONCURRENCY_FIRST_WRITE, consistency: StateConsistencyEnum.CONSISTENCY_UNSPECIFIED },
        metadata: { ttlInSeconds: TTL_SECONDS }
      })))
      if (error) throw error instanceof Error ? error : new Error(String(error))
    }
    for (const f of todo) {
      const latencyMs = f.order.sentAt === undefined ? undefined : performance.timeOrigin + performance.now() - f.order.sentAt
      log.info({ eventId: f.eventId, orderId: f.order.orderId, latencyMs }, receivedLine(f.order))
      statuses.push({ entryId: f.entryId, status: 'SUCCESS' })
    }
  } catch (err) {
    // The whole batch comes back; the ledger acknowledges what was recorded meanwhile.
    log.error({ err }, `Ledger unavailable; asking Dapr to retry ${fresh.length} orders`)
    for (const f of fresh) if (!statuses.some((s) => s.entryId === f.entryId)) statuses.push({ entryId: f.entryId, status: 'RETRY' })
  }
  return { statuses }
})

await app.listen({ host: '127.0.0.1', port })
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => { void app.close().then(() => process.exit(0)) })
