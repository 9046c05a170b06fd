// The raw limit's subscriber: no Dapr, a consumer group read in batches straight from the
// Redis stream, running the same order handler as the order-processor:
//   validate the order (orderProblem, shared/order.ts), record it once in a ledger in
//   Redis (first write wins, 7-day TTL, as the Dapr ledger does), log one JSON line per
//   processed order with its latencyMs, then acknowledge.
// It does what a tuned native consumer would: one XREADGROUP per batch, the batch's ledger
// writes in one pipeline, one XACK for the batch. The order-processor instead pays a
// round trip per call (delivery, state get, state save), which is what the ratio shows.
//
// Env: ORDERS_TOPIC (the stream), RAW_GROUP, RAW_BATCH. Run by bench/bench.ts; the
// consumer group must exist before orders are added (the bench creates it).
import { orderProblem, type Order } from '../shared/order.ts'
import { fieldsOf, type StreamEntry } from '../lab/redis.ts'
import { connect } from './lib/redis.ts'
import { receivedLine } from '../shared/log-lines.ts'

const topic = process.env.ORDERS_TOPIC!
const group = process.env.RAW_GROUP ?? 'bench-raw'
const batch = Number(process.env.RAW_BATCH ?? 100)
const TTL_SECONDS = 7 * 24 * 3600
const redis = connect()
let stopping = false
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => { stopping = true })

while (!stopping) {
  // BLOCK keeps an idle consumer cheap; 200 ms bounds how long a stop request waits.
  const reply = await redis.xreadgroup('GROUP', group, 'raw-1', 'COUNT', batch, 'BLOCK', 200, 'STREAMS', topic, '>') as Array<[string, StreamEntry[]]> | null
  if (!reply) continue
  const entries = reply[0]![1]
  const valid: Array<{ id: string, order: Order & { sentAt?: number } }> = []
  // Acknowledged at the end of the batch: the invalid ones (dropped, logged) and those recorded.
  const done: string[] = []
  for (const [id, fields] of entries) {
    let order: unknown
    try { order = JSON.parse(fieldsOf(fields).data ?? '') } catch { order = undefined }
    const problem = orderProblem(order)
    if (problem === undefined) { valid.push({ id, order: order as Order }); continue }
    process.stdout.write(`${JSON.stringify({ level: 40, time: Date.now(), name: 'raw-consumer', eventId: id, msg: `Dropping ${id}: ${problem}` })}\n`)
    done.push(id)
  }
  // The ledger: HSETNX is "has + record" in one atomic step (first write wins).
  const ledger = redis.pipeline()
  for (const { id, order } of valid) {
    const key = `bench-raw||processed:${topic}:${id}`
    ledger.hsetnx(key, 'data', JSON.stringify({ orderId: order.orderId, eventId: id, topic, processedAt: new Date().toISOString() }))
    ledger.expire(key, TTL_SECONDS)
  }
  const results = (await ledger.exec()) ?? []
  let lines = ''
  valid.forEach(({ id, order }, i) => {
    const [err, firstWrite] = results[2 * i] ?? [new Error('no reply')]
    if (err) return // not acknowledged: it stays pending, as a RETRY would
    done.push(id)
    const base = { level: 30, time: Date.now(), name: 'raw-consumer', eventId: id, orderId: order.orderId }
    if (firstWrite === 0) {
      lines += `${JSON.stringify({ ...base, msg: `Already processed orderId=${order.orderId} (event ${id}); acknowledging the redelivery` })}\n`
      return
    }
    const latencyMs = order.sentAt === undefined ? undefined : performance.timeOrigin + performance.now() - order.sentAt
    lines += `${JSON.stringify({ ...base, latencyMs, msg: receivedLine(order) })}\n`
  })
  if (lines) process.stdout.write(lines)
  if (done.length > 0) await redis.xack(topic, group, ...done)
}
redis.disconnect()
