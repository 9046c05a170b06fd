// Streaming subscriptions (npm start -- --streaming): the order-processor opens a gRPC
// stream to its sidecar and answers each event on it. The same guarantees as the HTTP
// subscription, proven the same way, on Redis and on Kafka: orders counted in the ledger
// (the Dapr state store), log lines, dead letters, and the order-processor or its sidecar
// killed in the middle of a run.
import { describe, expect, it } from 'vitest'
import { isStreamDownLine, isStreamOpenLine } from '../../shared/log-lines.ts'
import {
  Lab, RUNNERS, runnerMissing, disposedAfterEach, expectPoisonDeadLetteredOnce, expectExactlyOnceInEffect, expectNoLedgerRetries, expectNothingLostWhenKilled, killSidecarUntilRestarted, processedOrderIds, notOnThisMachine, uniqueTopic
} from './lab.ts'

const track = disposedAfterEach()

const opened = (lab: Lab, topic: string) => lab.lines.filter((l) => isStreamOpenLine(l, topic)).length
const MANY = 300
const fast = { ORDER_COUNT: String(MANY), PUBLISH_INTERVAL_MS: '10' }

describe.each(['redis', 'kafka'])('streaming subscription on %s (gRPC SubscribeTopicEventsAlpha1, real sidecars)', (broker) => {
  const args = ['--streaming', '--broker', broker]

  for (const runner of RUNNERS) {
    it.skipIf(notOnThisMachine(broker) || runnerMissing(runner))(`delivers orderId 1..19 exactly once, with no GET /dapr/subscribe subscription, and dead-letters each poison order once (runner: ${runner})`, async () => {
      const topic = uniqueTopic()
      const lab = track(new Lab(topic, { PUBLISH_INTERVAL_MS: '20', POISON_EVERY: '5', LAB_RUNNER: runner }, args))
      await lab.until('both streams open', () => opened(lab, topic) === 1 && opened(lab, `${topic}-deadletter`) === 1, 60_000)
      await expectPoisonDeadLetteredOnce(lab)
      // Nothing came over HTTP: the app announced no subscription.
      expect(await (await fetch(`${await lab.url()}/dapr/subscribe`)).json()).toEqual([])
      expect(await (await fetch(`${await lab.url()}/stats`)).json()).toMatchObject({ processed: 19, dropped: 3, deadLettered: 3, retried: 0 })
    })
  }

  it.skipIf(notOnThisMachine(broker))('SIGKILL the order-processor mid-run; it opens its stream again when started; each order processed exactly once in effect', async () => {
    const topic = uniqueTopic()
    const lab = track(new Lab(topic, fast, args))
    await expectNothingLostWhenKilled(lab, MANY, track, {
      restarted: (again) => again.until('the restarted order-processor to open its stream', () => opened(again, topic) === 1, 60_000)
    })
  })

  // The project's runner restarts a sidecar that died; the Dapr CLI does not (delivery.test.ts).
  it.skipIf(notOnThisMachine(broker))('SIGKILL the order-processor\'s sidecar mid-run; the stream comes back when the runner has restarted it; each order processed exactly once in effect', async () => {
    const topic = uniqueTopic()
    const lab = track(new Lab(topic, fast, args))
    await lab.until('60 orders processed', () => lab.received().length >= 60)
    const killed = await killSidecarUntilRestarted(lab)
    expect((await processedOrderIds(topic)).length).toBeLessThan(MANY)
    await lab.until('the stream to be down', () => lab.lines.some((l) => isStreamDownLine(l, topic)), 30_000)
    await lab.until('the stream to open again', () => opened(lab, topic) === 2, 90_000)
    await expectExactlyOnceInEffect(topic, MANY, lab.lines)
    await expectNoLedgerRetries(lab)
    expect((await lab.find('daprd', '--app-id order-processor')).pid).not.toBe(killed)
  })
})
