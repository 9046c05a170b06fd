// Message TTL (npm start -- --ttl N, ORDER_TTL_SECONDS): orders that expire while no
// order-processor is there to take them are never delivered to it, not on the orders
// route and not on the dead-letter route: the receiving sidecar drops them. Dapr 1.18
// copies a dropped event to the subscription's dead-letter topic, where it has expired
// too and is dropped again: it stays in the broker for inspection, and no app gets it.
// Orders that have not expired are delivered. Redis: its streams have no TTL of their
// own, so this is Dapr's doing.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { allAcceptedLine, isDeadLetterLine } from '../../shared/log-lines.ts'
import { deadLetterTopic } from '../../shared/pubsub.ts'
import { cloudEventOf, withRedis } from '../../lab/redis.ts'
import { Lab, disposedAfterEach, expectEachOnce, expectExactlyOnceInEffect, processedOrderIds, uniqueTopic, until } from './lab.ts'

const track = disposedAfterEach()

describe('message TTL (real sidecars, Redis)', () => {
  it('orders that expired before the order-processor came are dropped, never delivered, not even as dead letters; orders within their TTL are delivered', async () => {
    const topic = uniqueTopic()
    // 5 orders that live 1 s, published while no order-processor runs.
    const early = track(new Lab(topic, { ORDER_COUNT: '5', PUBLISH_INTERVAL_MS: '50' }, ['--app', 'checkout', '--ttl', '1']))
    await early.until('the checkout to publish 5 orders', () => early.output.includes(allAcceptedLine(5)))
    const publishedAt = Date.now()
    await early.stop()
    await until('the 5 orders to be past their TTL', () => Date.now() - publishedAt > 1500, 10_000)

    // Then the whole lab, its orders living 10 minutes: orders 1..19 again, new events.
    const lab = track(new Lab(topic, { PUBLISH_INTERVAL_MS: '50' }, ['--ttl', '600']))
    await expectExactlyOnceInEffect(topic, 19, lab.lines)
    // Every entry of the stream (5 + 19) was read and acknowledged by the order-processor's
    // sidecar: the 5 expired ones too, without reaching the app.
    const stream = () => withRedis(async (r) => {
      const [last] = await r.xrevrange(topic, '+', '-', 'COUNT', 1)
      const groups = await r.xinfo('GROUPS', topic) as unknown[][]
      const group = Object.fromEntries(Array.from({ length: groups[0]!.length / 2 }, (_, i) => [groups[0]![2 * i], groups[0]![2 * i + 1]])) as { pending: number, 'last-delivered-id': string }
      return { length: await r.xlen(topic), lastId: last?.[0], pending: group.pending, lastDelivered: group['last-delivered-id'] }
    })
    await until('the order-processor\'s sidecar to have read and acknowledged every entry', async () => {
      const s = await stream()
      return s.pending === 0 && s.lastDelivered === s.lastId
    }, 30_000)
    expect((await stream()).length).toBe(24)
    expect((await processedOrderIds(topic)).sort((a, b) => a - b), 'the expired orders 1..5 were not processed again').toEqual(Array.from({ length: 19 }, (_, i) => i + 1))
    await lab.until('the 19th log line', () => lab.received().length >= 19, 30_000)
    expectEachOnce(lab.received(), lab.output)
    expect(lab.lines.filter(isDeadLetterLine), 'no dead letter reached the app').toEqual([])
    // The 5 expired events: copied to the dead-letter topic, dropped on both.
    const expired = (await withRedis((r) => r.xrange(deadLetterTopic(topic), '-', '+'))).map((entry) => String(cloudEventOf(entry)?.id))
    expect(expired).toHaveLength(5)
    const sidecarLog = readFileSync(await lab.log('order-processor', 'daprd'), 'utf8')
    for (const id of expired) expect(sidecarLog.split(`dropping expired pub/sub event ${id} `).length - 1, `event ${id} dropped on the orders and the dead-letter topic`).toBe(2)
  })
})
