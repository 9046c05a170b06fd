// Redis restarted under a run: the broker and the state store go away and come back. It
// stops the one Redis every run uses, so this file runs alone (vitest.config.ts).
import { expect, it } from 'vitest'
import { Lab, disposedAfterEach, eachRunner, expectExactlyOnceInEffect, notOnThisMachine, uniqueTopic, until } from './lab.ts'
import { withRedis } from '../../lab/redis.ts'
import { labRedisPid, redis } from '../../lab/services/redis.ts'
import { allAcceptedLine } from '../../shared/log-lines.ts'

const track = disposedAfterEach()
const MANY = 300

eachRunner('Redis restarted mid-run (runner: %s; real sidecars)', (runner) => {
  // Restarting somebody else's Redis is not a test's business: skipped, and said, when the
  // Redis on 6379 is not the one npm test started (lab/commands/test.ts); on CI it must be.
  it.skipIf(notOnThisMachine('redis-restart'))('restart Redis mid-run (AOF persistence on): each order processed exactly once in effect, every publish accepted', async () => {
    expect(await labRedisPid(), 'the Redis on 6379 must be the one the project started').toBeDefined()
    expect(await withRedis((r) => r.config('GET', 'appendonly'))).toEqual(['appendonly', 'yes'])

    const topic = uniqueTopic()
    const lab = track(new Lab(topic, { ORDER_COUNT: String(MANY), PUBLISH_INTERVAL_MS: '10', LAB_RUNNER: runner }))
    await lab.until('60 orders processed', () => lab.received().length >= 60)
    await withRedis((r) => r.call('SHUTDOWN')).catch(() => { /* the connection closes as Redis exits */ })
    await until('Redis to stop', () => withRedis((r) => r.ping()).then(() => false, () => true), 10_000)
    expect(await redis.up()).toEqual({ started: true })

    await expectExactlyOnceInEffect(topic, MANY, lab.lines)
    await lab.until('the checkout to report all accepted', () => lab.output.includes(allAcceptedLine(MANY)), 60_000)
  })
})
