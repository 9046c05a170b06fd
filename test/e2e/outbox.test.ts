// The transactional outbox (npm start -- --outbox): the checkout saves each order in the
// outbox state store, and the same state transaction publishes it. Killed mid-run, the
// checkout leaves no order saved and not delivered, and none delivered and not saved;
// each is processed exactly once in effect.
import { describe, expect, it } from 'vitest'
import { isAppExitedLine, isPublishedLine, receivedOrderIds } from '../../shared/log-lines.ts'
import { outboxKey } from '../../shared/pubsub.ts'
import { withRedis } from '../../lab/redis.ts'
import { Lab, deleteRedisKey, disposedAfterEach, expectExactlyOnceInEffect, keysMatching, killHard, ledgerEntries, uniqueTopic, until } from './lab.ts'

const track = disposedAfterEach()
const MANY = 300
const sorted = (ids: number[]) => [...ids].sort((a, b) => a - b)

/** The orderIds the checkout saved in the outbox store (Dapr keeps key K of app A in the hash "A||K"). */
const savedOrderIds = (topic: string) => withRedis(async (r) =>
  (await keysMatching(r, `checkout||${outboxKey(topic, '*')}`)).map((key) => Number(key.split('order-').at(-1))))

describe('transactional outbox (real sidecars, Redis)', () => {
  it('delivers the 19 orders it saved, exactly once in effect', async () => {
    const topic = uniqueTopic()
    const lab = track(new Lab(topic, { PUBLISH_INTERVAL_MS: '50' }, ['--outbox']))
    try {
      await expectExactlyOnceInEffect(topic, 19, lab.lines)
      expect(sorted(await savedOrderIds(topic))).toEqual(Array.from({ length: 19 }, (_, i) => i + 1))
      // The event came from the outbox, not from a publish: Dapr names outbox events so.
      expect((await ledgerEntries(topic)).every((e) => e.eventId?.startsWith('outbox-')), 'every event id starts with outbox-').toBe(true)
    } finally {
      await cleanUp(topic)
    }
  })

  it('SIGKILL the checkout mid-run: every order it saved is delivered exactly once in effect, and every delivered order is in the store', async () => {
    const topic = uniqueTopic()
    const lab = track(new Lab(topic, { ORDER_COUNT: String(MANY), PUBLISH_INTERVAL_MS: '20' }, ['--outbox']))
    try {
      await lab.until('60 orders saved and published', () => lab.lines.filter(isPublishedLine).length >= 60)
      await killHard((await lab.find('src/main.ts')).pid)
      await lab.until('the runner to see the checkout exit', () => lab.lines.some((l) => isAppExitedLine(l, 'checkout')), 30_000)
      const same = (a: number[], b: number[]) => a.length === b.length && sorted(a).every((id, i) => id === sorted(b)[i])
      await until('the ledger to hold exactly the orders the store holds', async () =>
        same((await ledgerEntries(topic)).map((e) => e.orderId), await savedOrderIds(topic)), 60_000)
        .catch(async (err: Error) => { throw new Error(`${err.message}: saved ${(await savedOrderIds(topic)).length}, delivered ${(await ledgerEntries(topic)).length}`) })
      const saved = await savedOrderIds(topic)
      expect(saved.length, 'the checkout was killed mid-run').toBeLessThan(MANY)
      const delivered = (await ledgerEntries(topic)).map((e) => e.orderId)
      expect(sorted(delivered)).toEqual(sorted(saved))
      expect(new Set(delivered).size, 'each delivered once in effect').toBe(delivered.length)
      const lines = receivedOrderIds(lab.lines)
      expect(new Set(lines).size, 'no order processed twice').toBe(lines.length)
    } finally {
      await cleanUp(topic)
    }
  })
})

async function cleanUp (topic: string): Promise<void> {
  await withRedis(async (r) => {
    const keys = await keysMatching(r, `checkout||${outboxKey(topic, '*')}`)
    if (keys.length > 0) await r.del(...keys)
  }).catch(() => {})
  // The outbox's internal topic: <namespace><app id><topic>outbox.
  await deleteRedisKey(`defaultcheckout${topic}outbox`).catch(() => {})
}
