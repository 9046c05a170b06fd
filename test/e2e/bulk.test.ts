// Bulk subscribe (npm start -- --bulk): the sidecar hands the order-processor batches on
// POST /orders/bulk, answered entry by entry, the ledger written once per batch. The same
// guarantees as single deliveries, proven the same way: orders counted in the ledger,
// log lines, dead letters, and the order-processor killed in the middle of a run.
import { describe, expect, it } from 'vitest'
import { allAcceptedLine } from '../../shared/log-lines.ts'
import { BULK } from '../../shared/pubsub.ts'
import { Lab, disposedAfterEach, expectPoisonDeadLetteredOnce, expectNothingLostWhenKilled, notOnThisMachine, ordersFailedInSidecar, uniqueTopic } from './lab.ts'

const track = disposedAfterEach()

const MANY = 300

describe.each(['redis', 'kafka'])('bulk subscribe on %s (POST /orders/bulk, real sidecars)', (broker) => {
  const args = ['--bulk', '--broker', broker]

  it.skipIf(notOnThisMachine(broker))('delivers orderId 1..19 exactly once in batches, and dead-letters each poison order once', async () => {
    const topic = uniqueTopic()
    const lab = track(new Lab(topic, { PUBLISH_INTERVAL_MS: '20', POISON_EVERY: '5' }, args))
    await expectPoisonDeadLetteredOnce(lab)
    const [subscription] = await (await fetch(`${await lab.url()}/dapr/subscribe`)).json() as Array<{ route: string, bulkSubscribe?: { enabled: boolean } }>
    expect(subscription).toMatchObject({ route: '/orders/bulk', bulkSubscribe: { enabled: true } })
    // Every order came through the bulk route: one histogram entry per batch, none on POST /orders.
    const metrics = await (await fetch(`${await lab.url()}/metrics`)).text()
    expect(metrics).toMatch(/^order_handler_seconds_count\{status="bulk"\} [1-9]/m)
    expect(metrics).not.toMatch(/^order_handler_seconds_count\{status="SUCCESS"\}/m)
    expect(await (await fetch(`${await lab.url()}/stats`)).json()).toMatchObject({ processed: 19, dropped: 3, deadLettered: 3, retried: 0 })
  })

  if (broker === 'kafka') it.skipIf(notOnThisMachine(broker))('SIGKILL the order-processor mid-run; orders published while it is down are delivered once it is started again; each processed exactly once in effect', async () => {
    const lab = track(new Lab(uniqueTopic(), { ORDER_COUNT: String(MANY), PUBLISH_INTERVAL_MS: '10' }, args))
    await expectNothingLostWhenKilled(lab, MANY, track)
  })

  // On Redis the restarted order-processor gets no batch: a Dapr bug (the default bulk
  // subscriber leaves the Redis component's workers parked when the app health check pauses
  // the subscription; the README, "Bulk subscribe"). What the README promises instead is
  // proven here: the next run (a new sidecar) delivers the rest, each once in effect, but
  // for the batch the stalled sidecar had in flight as the pause came, which daprd may
  // acknowledge undelivered (a second Dapr bug): those orders, and only those, may be lost.
  if (broker === 'redis') it.skipIf(notOnThisMachine(broker))('SIGKILL the order-processor mid-run; the orders a stalled sidecar holds are delivered by the next run, but those of the batch it failed to deliver as it stalled; each processed exactly once in effect', async () => {
    const lab = track(new Lab(uniqueTopic(), { ORDER_COUNT: String(MANY), PUBLISH_INTERVAL_MS: '10' }, args))
    await expectNothingLostWhenKilled(lab, MANY, track, {
      async restarted () {
        await lab.until('the checkout to report all accepted', () => lab.output.includes(allAcceptedLine(MANY)), 30_000)
        await lab.stop()
        return track(new Lab(lab.topic, {}, [...args, '--app', 'order-processor'])).lines
      },
      excused: async () => {
        const failed = await ordersFailedInSidecar(lab)
        // At most one batch.
        expect(failed.length, `orders the stalled sidecar failed to deliver: ${failed.join(', ')}`).toBeLessThanOrEqual(BULK.maxMessagesCount)
        return failed
      }
    })
  })
})
