// Routing rules (npm start -- --routing): the sidecar evaluates a CEL rule on each order
// and posts orders of 100 or more to POST /orders/priority, the rest to POST /orders. Both
// routes go through the same delivery decision and ledger; the ledger keeps the route
// each order came on, so the test reads it there, and in the log lines.
import { describe, expect, it } from 'vitest'
import { isPriorityLine, receivedOrderIds } from '../../shared/log-lines.ts'
import { isPriority, PRIORITY_ROUTE } from '../../shared/pubsub.ts'
import { makeOrder } from '../../shared/order.ts'
import { Lab, disposedAfterEach, expectEachOnce, expectExactlyOnceInEffect, ledgerEntries, uniqueTopic } from './lab.ts'

const track = disposedAfterEach()

describe.each([
  ['programmatic', ['--routing']],
  ['declarative (dapr.io/v2alpha1)', ['--routing', '--declarative']]
])('routing rules, %s subscriptions (real sidecars, Redis)', (kind, args) => {
  it('sends each order to exactly the route its amount says: 100 or more to /orders/priority, the rest to /orders', async () => {
    const topic = uniqueTopic()
    const lab = track(new Lab(topic, { PUBLISH_INTERVAL_MS: '50' }, args))
    await expectExactlyOnceInEffect(topic, 19, lab.lines)
    await lab.until('the 19th log line', () => lab.received().length >= 19, 30_000)
    expectEachOnce(lab.received(), lab.output)

    const want = (orderId: number) => isPriority(makeOrder(orderId)) ? PRIORITY_ROUTE : '/orders'
    const entries = await ledgerEntries(topic)
    expect(entries.map((e) => [e.orderId, e.route]).sort((a, b) => Number(a[0]) - Number(b[0])))
      .toEqual(entries.map((e) => e.orderId).sort((a, b) => a - b).map((id) => [id, want(id)]))
    // Both routes were used: orders 10..19 cost 100 or more.
    const priority = receivedOrderIds(lab.lines.filter(isPriorityLine)).sort((a, b) => a - b)
    expect(priority).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19])

    const answer = await (await fetch(`${await lab.url()}/dapr/subscribe`)).json() as Array<{ routes?: unknown }>
    if (kind === 'programmatic') expect(answer[0]!.routes).toEqual({ rules: [{ match: 'event.data.amount >= 100.0', path: PRIORITY_ROUTE }], default: '/orders' })
    else expect(answer, 'declarative: the app announces none').toEqual([])
  })
})
