// Tracing, end to end: `npm start -- --tracing` starts a Zipkin, the sidecars send it their
// spans (config/tracing.yaml, sampling every request), and each published order can be
// followed from the checkout's sidecar to the order-processor's in one trace.
//
// Which trace belongs to which order is read from the order itself: the publishing sidecar
// puts its span's traceparent into the CloudEvent, which Redis keeps in the topic's stream.
import { afterAll, describe, expect, it } from 'vitest'
import { PUBSUB_NAME } from '../../shared/pubsub.ts'
import { handedOverServer } from '../../shared/log-lines.ts'
import { Lab, portIsFree, notOnThisMachine, uniqueTopic, until } from './lab.ts'
import { cloudEventOf, withRedis, type StreamEntry } from '../../lab/redis.ts'

const ZIPKIN = 'http://127.0.0.1:9411'

interface Span {
  traceId: string
  id: string
  parentId?: string
  kind?: string
  name?: string
  localEndpoint?: { serviceName?: string }
  tags?: Record<string, string>
}

async function zipkinAnswers (): Promise<boolean> {
  return fetch(`${ZIPKIN}/health`, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false)
}

/** The spans Zipkin holds for a trace (none yet: an empty list). */
async function trace (traceId: string): Promise<Span[]> {
  const res = await fetch(`${ZIPKIN}/api/v2/trace/${traceId}`, { signal: AbortSignal.timeout(5000) })
  if (res.status === 404) return []
  if (!res.ok) throw new Error(`GET /api/v2/trace/${traceId}: ${res.status} ${await res.text()}`)
  return await res.json() as Span[]
}

/** orderId -> the trace and span ids of its publish, from the CloudEvents in the topic's stream. */
async function publishedTraceparents (topic: string): Promise<Map<number, { traceId: string, spanId: string }>> {
  const found = new Map<number, { traceId: string, spanId: string }>()
  for (const entry of await withRedis((r) => r.xrange(topic, '-', '+') as Promise<StreamEntry[]>)) {
    const event = (cloudEventOf(entry) ?? {}) as { data?: { orderId?: number }, traceparent?: string }
    const [, traceId, spanId] = /^00-([0-9a-f]{32})-([0-9a-f]{16})-/.exec(event.traceparent ?? '') ?? []
    if (event.data?.orderId !== undefined && traceId && spanId) found.set(event.data.orderId, { traceId, spanId })
  }
  return found
}

const service = (s: Span) => s.localEndpoint?.serviceName

describe.skipIf(notOnThisMachine('zipkin'))('npm start -- --tracing: publish and delivery in one Zipkin trace', () => {
  const topic = uniqueTopic()
  let lab: Lab | undefined

  afterAll(() => lab?.dispose())

  it('gives every published order one trace with the checkout sidecar\'s publish span and the order-processor sidecar\'s delivery span', async () => {
    // A Zipkin that answers (a developer's, or LAB.md's exercise 7's run beside this one) is
    // used; otherwise the run starts one.
    lab = new Lab(topic, { PUBLISH_INTERVAL_MS: '20' }, ['--tracing'])
    await lab.until('19 distinct orders at the order-processor', () => new Set(lab!.received()).size === 19)
    expect(lab.output).toContain(`UI: ${ZIPKIN}/zipkin/`)
    const startedZipkin = lab.output.includes('[lab] starting Zipkin')

    const published = await publishedTraceparents(topic)
    expect([...published.keys()].sort((a, b) => a - b), 'orders with a traceparent in the stream').toEqual(Array.from({ length: 19 }, (_, i) => i + 1))
    expect(new Set([...published.values()].map((p) => p.traceId)).size, 'one trace per order').toBe(19)

    // The sidecars export their spans in batches (every 5 s): poll until every trace holds
    // both sides, then look at what it holds.
    const traces = new Map<number, Span[]>()
    const complete = (spans: Span[]) => ['checkout', 'order-processor'].every((id) => spans.some((s) => service(s) === id))
    await until('Zipkin to hold spans from both sidecars for every order', async () => {
      for (const [orderId, { traceId }] of published) {
        if (!complete(traces.get(orderId) ?? [])) traces.set(orderId, await trace(traceId))
      }
      return [...traces.values()].every(complete)
    }, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${JSON.stringify(Object.fromEntries(traces), null, 1)}`)
    })

    for (const [orderId, { traceId, spanId }] of published) {
      const spans = traces.get(orderId)!
      expect(spans.every((s) => s.traceId === traceId)).toBe(true)
      // Publish: the checkout's sidecar serving POST /v1.0/publish; its span is the one the
      // CloudEvent's traceparent names, and the root of the trace.
      const publishes = spans.filter((s) => service(s) === 'checkout')
      expect(publishes, `order ${orderId}: ${JSON.stringify(spans)}`).toHaveLength(1)
      expect(publishes[0]).toMatchObject({
        id: spanId,
        kind: 'CLIENT',
        name: `/v1.0/publish/${PUBSUB_NAME}/${topic}`,
        tags: { 'messaging.system': 'pubsub', 'dapr.api': `POST /v1.0/publish/${PUBSUB_NAME}/${topic}`, 'dapr.status_code': '204' }
      })
      expect(publishes[0]!.parentId).toBeUndefined()
      // Delivery: the order-processor's sidecar handing the order to its app, a child of the
      // publish, once (no redelivery).
      const deliveries = spans.filter((s) => service(s) === 'order-processor')
      expect(deliveries, `order ${orderId}: ${JSON.stringify(spans)}`).toHaveLength(1)
      expect(deliveries[0]).toMatchObject({
        parentId: spanId,
        kind: 'CLIENT',
        name: `pubsub/${topic}`,
        tags: { 'messaging.system': 'pubsub', 'messaging.destination.name': topic }
      })
    }

    await lab.stop()
    // The Zipkin the run started is stopped when it ends, unless another run going on uses
    // it (LAB.md's exercise 7), which is then handed it, as the run says
    // (test/e2e/servers.test.ts proves both).
    expect(await lab.leftBehind()).toEqual([])
    if (startedZipkin && !lab.lines.some((line) => handedOverServer(line) === 'Zipkin')) {
      expect(await zipkinAnswers()).toBe(false)
      expect(await portIsFree(9411)).toBe(true)
    }
  })
})
