// The delivery guarantees, proven on real sidecars and a real Redis: kill things in the
// middle of a run, corrupt orders, make the handler fail, and count what was processed.
// "Processed" is what the order-processor's ledger (the Dapr state store) holds: one entry
// per event, written at the moment an order counts as done.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, expect, it } from 'vitest'
import { parse } from 'yaml'
import { deadLetterTopic } from '../../shared/pubsub.ts'
import {
  Lab, REPO, eachRunner, expectPoisonDeadLetteredOnce, disposedAfterEach, expectEachOnce, expectExactlyOnceInEffect, expectNoLedgerRetries, expectNothingLostWhenKilled, killHard, killSidecarUntilRestarted, processedOrderIds, uniqueTopic, until, type RunnerKind
} from './lab.ts'
import { withRedis } from '../../lab/redis.ts'
import { allAcceptedLine, isDeadLetterLine, isDroppedLine, isRetryLine } from '../../shared/log-lines.ts'

const track = disposedAfterEach()

let runner: RunnerKind = 'project'

function startLab (env: Record<string, string>, args: string[] = [], topic = uniqueTopic()): { lab: Lab, topic: string } {
  const lab = track(new Lab(topic, { ...env, LAB_RUNNER: runner }, args))
  return { lab, topic }
}

const deadLettersIn = (lines: string[]) => lines.filter(isDeadLetterLine)

async function stats (lab: Lab): Promise<Record<string, number>> {
  return await (await fetch(`${await lab.url()}/stats`)).json() as Record<string, number>
}

/** Entries the order-processor's consumer group took from `stream` and never acknowledged. */
async function pending (stream: string): Promise<number> {
  // XPENDING's summary form answers [count, smallest id, greatest id, per-consumer counts].
  const [count] = await withRedis((r) => r.xpending(stream, 'order-processor')) as [number]
  return Number(count)
}

const MANY = 300
const fast = { ORDER_COUNT: String(MANY), PUBLISH_INTERVAL_MS: '10' }

eachRunner('delivery guarantees (runner: %s; real sidecars, Redis)', (kind) => {
  beforeAll(() => { runner = kind })

  it('SIGKILL the order-processor mid-run; orders published while it is down are delivered once it is started again; each processed exactly once in effect', async () => {
    const { lab } = startLab(fast)
    // Down for longer than the delivery retries last (resiliency.yaml, about 8-12 s): the
    // sidecar's app health check must pause delivery, or those orders would be dead-lettered.
    await expectNothingLostWhenKilled(lab, MANY, track, {
      seconds: 18,
      whileDown: async () => {
        const sidecarLog = await lab.log('order-processor', 'daprd')
        await until('the sidecar to see the order-processor unhealthy', () => readFileSync(sidecarLog, 'utf8').includes('App entered un-healthy status'), 15_000)
      }
    })
  })

  if (kind === 'project') it('SIGKILL the order-processor\'s sidecar mid-run; the runner restarts it; each order processed exactly once in effect', async () => {
    const { lab, topic } = startLab(fast)
    await lab.until('60 orders processed', () => lab.received().length >= 60)
    const killed = await killSidecarUntilRestarted(lab)
    expect((await processedOrderIds(topic)).length).toBeLessThan(MANY)
    await expectExactlyOnceInEffect(topic, MANY, lab.lines)
    await expectNoLedgerRetries(lab)
    expect((await lab.find('daprd', '--app-id order-processor')).pid).not.toBe(killed)
  })

  // The Dapr CLI does not restart a sidecar that died: nothing delivers until the next run.
  if (kind === 'cli') it('SIGKILL the order-processor\'s sidecar mid-run; the Dapr CLI does not restart it; the orders wait in the broker and the next run processes each exactly once in effect', async () => {
    const { lab, topic } = startLab(fast)
    await lab.until('60 orders processed', () => lab.received().length >= 60)
    await killHard((await lab.find('daprd', '--app-id order-processor')).pid)
    expect((await processedOrderIds(topic)).length).toBeLessThan(MANY)
    await lab.until('the checkout to report all accepted', () => lab.output.includes(allAcceptedLine(MANY)), 60_000)
    expect((await lab.processes()).filter((p) => p.cmd.includes('daprd') && p.cmd.includes('--app-id order-processor')), 'a restarted sidecar').toEqual([])
    await lab.stop()
    const { lab: again } = startLab(fast, ['--app', 'order-processor'], topic)
    await expectExactlyOnceInEffect(topic, MANY, [...lab.lines, ...again.lines])
  })

  it('poison orders mixed into a run: each reaches the dead-letter topic once, every valid order is processed, nothing loops', async () => {
    const { lab, topic } = startLab({ PUBLISH_INTERVAL_MS: '20', POISON_EVERY: '5' })
    const dead = await expectPoisonDeadLetteredOnce(lab)
    expect(lab.lines.filter((l) => isDroppedLine(l, '"poison-'))).toHaveLength(dead.length)
    // Nothing waits for a redelivery: every delivery on both topics was acknowledged.
    await until('no unacknowledged delivery', async () => await pending(topic) === 0 && await pending(deadLetterTopic(topic)) === 0, 30_000)
    expect(await stats(lab)).toMatchObject({ processed: 19, dropped: 3, deadLettered: 3, retried: 0, duplicates: 0 })
    expect(await withRedis((r) => r.xlen(deadLetterTopic(topic)))).toBe(dead.length)
  })

  it('a handler fault for a while: the orders are retried, then processed; the counts match', async () => {
    const { lab, topic } = startLab({ PUBLISH_INTERVAL_MS: '100', SIMULATED_OUTAGE_MS: '2500' })
    await expectExactlyOnceInEffect(topic, 19, lab.lines)
    // The ledger is written before the log line, which comes through the runner's pipe.
    await lab.until('the 19th log line', () => lab.received().length >= 19, 30_000)
    expectEachOnce(lab.received(), lab.output)
    const counts = await stats(lab)
    expect(counts.retried).toBeGreaterThan(0)
    expect(counts).toMatchObject({ processed: 19, deadLettered: 0, dropped: 0 })
    expect(lab.lines.filter((l) => l.includes('failed (simulated outage')).length).toBe(counts.retried)
  })

  it('a fault that outlasts the retry policy: each order is tried 1 + maxRetries times, then dead-lettered, not retried forever', async () => {
    const resiliency = parse(readFileSync(join(REPO, 'components', 'resiliency.yaml'), 'utf8')) as { spec: { policies: { retries: { delivery: { maxRetries: number } } } } }
    const attempts = 1 + resiliency.spec.policies.retries.delivery.maxRetries
    const { lab, topic } = startLab({ ORDER_COUNT: '3', PUBLISH_INTERVAL_MS: '100', SIMULATED_OUTAGE_MS: '3600000' })
    await lab.until('3 dead letters', () => deadLettersIn(lab.lines).length >= 3)
    for (const id of [1, 2, 3]) {
      expect(lab.lines.filter((l) => isRetryLine(l, id)), `attempts for orderId=${id}`).toHaveLength(attempts)
      expect(deadLettersIn(lab.lines).filter((l) => l.includes(`orderId=${id} `) && l.includes('retry policy gave up'))).toHaveLength(1)
    }
    await until('no unacknowledged delivery', async () => await pending(topic) === 0, 30_000)
    expect(await stats(lab)).toMatchObject({ processed: 0, deadLettered: 3, retried: 3 * attempts })
    expect(await processedOrderIds(topic)).toEqual([])
  })

  it('with APP_API_TOKEN and DAPR_API_TOKEN set, the lab still works and calls without the tokens are refused', async () => {
    const { lab, topic } = startLab({ PUBLISH_INTERVAL_MS: '20', APP_API_TOKEN: 'app-token-e2e', DAPR_API_TOKEN: 'dapr-token-e2e' })
    await lab.until('19 orders processed', () => lab.received().length >= 19)
    await expectExactlyOnceInEffect(topic, 19, lab.lines)
    expectEachOnce(lab.received(), lab.output)

    const order = JSON.stringify({ orderId: 99, customerName: 'Mallory', amount: 1, status: 'Pending' })
    const url = await lab.url()
    const post = (headers: Record<string, string>) => fetch(`${url}/orders`, { method: 'POST', body: order, headers: { 'content-type': 'application/json', ...headers } })
    expect((await post({})).status).toBe(401)
    expect((await post({ 'dapr-api-token': 'guess' })).status).toBe(401)
    expect((await fetch(`${url}/dapr/subscribe`)).status).toBe(401)
    expect((await fetch(`${url}/dapr/subscribe`, { headers: { 'dapr-api-token': 'app-token-e2e' } })).status).toBe(200)
    expect(await processedOrderIds(topic)).not.toContain(99)

    const port = await lab.daprHttpPort()
    expect((await fetch(`http://127.0.0.1:${port}/v1.0/metadata`)).status).toBe(401)
    expect((await fetch(`http://127.0.0.1:${port}/v1.0/metadata`, { headers: { 'dapr-api-token': 'dapr-token-e2e' } })).status).toBe(200)
  })
})
