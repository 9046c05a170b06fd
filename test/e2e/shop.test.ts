// The shop (npm start -- --shop): order, billing, notification and shipping, each its own
// app id. Every order reaches billing, notification and shipping exactly once; billing
// publishes a bill per order, which only the order service receives. Who may publish and
// receive each topic is enforced by the sidecars (the component's scopes and the
// Subscriptions' scopes, both from shop/topology.ts): a scoped-out app gets nothing, and
// a publish it is not allowed is refused.
import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { makePlan, parsePlanArgs } from '../../lab/plan.ts'
import { appPrefix, isBillReceivedLine, receivedOrderIds } from '../../shared/log-lines.ts'
import { PUBSUB_NAME } from '../../shared/pubsub.ts'
import { Lab, deleteLedger, deleteRedisKey, disposedAfterEach, ledgerEntries, processedOrderIds, uniqueTopic, until } from './lab.ts'

const track = disposedAfterEach()
const all = Array.from({ length: 19 }, (_, i) => i + 1)
const sorted = (ids: number[]) => [...ids].sort((a, b) => a - b)

describe('the shop: four services, scoped (real sidecars, Redis)', () => {
  it('19 orders reach billing, notification and shipping once each; 19 bills reach the order service and no one else; a publish out of scope is refused', async () => {
    const env = { ORDERS_TOPIC: uniqueTopic(), BILLS_TOPIC: `bills-${randomUUID().slice(0, 8)}` }
    // The shop's own topics, as the run's plan names them.
    const plan = makePlan(parsePlanArgs(['--shop']), { ...process.env, ...env })
    const lab = track(new Lab(env.ORDERS_TOPIC, { ...env, PUBLISH_INTERVAL_MS: '50' }, ['--shop']))
    const [topic, bills] = [plan.topic, plan.billsTopic]
    try {
      const receivers = ['billing', 'notification', 'shipping']
      await until('19 orders in the ledgers of billing, notification and shipping, and 19 bills in the order service\'s', async () =>
        (await Promise.all([...receivers.map((app) => processedOrderIds(topic, app)), processedOrderIds(bills, 'order')])).every((ids) => ids.length >= 19), 120_000)
        .catch((err: Error) => { throw new Error(`${err.message}\n${lab.lines.slice(-40).join('\n')}`) })
      for (const app of receivers) expect(sorted(await processedOrderIds(topic, app)), `${app}'s orders`).toEqual(all)
      expect(sorted(await processedOrderIds(bills, 'order')), 'the order service\'s bills').toEqual(all)

      // Each app logged each once: no redelivery was processed twice.
      const linesOf = (app: string) => lab.lines.filter((l) => l.startsWith(appPrefix(app)))
      await lab.until('every app\'s 19th line', () => [...receivers, 'order'].every((app) => receivedOrderIds(linesOf(app)).length >= 19), 30_000)
      for (const app of [...receivers, 'order']) expect(sorted(receivedOrderIds(linesOf(app))), app).toEqual(all)
      expect(linesOf('order').filter(isBillReceivedLine).length).toBe(19)
      // A bill's event id is derived from its order's: one bill per order event.
      const orderEvents = new Set((await ledgerEntries(topic, 'billing')).map((e) => `bill-${e.eventId}`))
      expect(new Set((await ledgerEntries(bills, 'order')).map((e) => e.eventId))).toEqual(orderEvents)

      // Scoped out: no one but the order service received a bill or subscribed to bills,
      // and the order service did not subscribe to the orders.
      for (const app of receivers) expect(await ledgerEntries(bills, app), `${app} got bills`).toEqual([])
      expect(await ledgerEntries(topic, 'order'), 'the order service got orders').toEqual([])
      const subscribed = async (app: string) => {
        const metadata = await (await fetch(`http://127.0.0.1:${await lab.daprHttpPort(app)}/v1.0/metadata`)).json() as { subscriptions?: Array<{ topic: string }> }
        return (metadata.subscriptions ?? []).map((s) => s.topic).filter((t) => t === topic || t === bills)
      }
      expect(await subscribed('order')).toEqual([bills])
      for (const app of receivers) expect(await subscribed(app), app).toEqual([topic])

      // Publishing out of scope: billing may not publish orders, shipping may not publish bills.
      const publish = async (app: string, to: string) => (await fetch(`http://127.0.0.1:${await lab.daprHttpPort(app)}/v1.0/publish/${PUBSUB_NAME}/${to}`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ orderId: 999, customerName: 'Mallory', amount: 1, status: 'Pending' })
      })).status
      expect(await publish('billing', topic)).toBe(403)
      expect(await publish('shipping', bills)).toBe(403)
      expect(await processedOrderIds(topic, 'shipping'), 'nothing refused got through').not.toContain(999)
    } finally {
      for (const app of ['billing', 'notification', 'order']) await deleteLedger(bills, app).catch(() => {})
      for (const app of ['billing', 'notification', 'shipping', 'order']) await deleteLedger(topic, app).catch(() => {})
      for (const stream of [topic, bills, `${topic}-deadletter`, `${bills}-deadletter`]) await deleteRedisKey(stream).catch(() => {})
    }
  })
})
