import { afterEach, describe, expect, it } from 'vitest'
import { pino } from 'pino'
import { Writable } from 'node:stream'
import { buildApp, type AppOptions } from '../../shared/subscriber/app.ts'
import { simulatedOutage } from '../../subscriber/src/outage.ts'
import { memoryLedger, type Ledger } from '../../shared/subscriber/ledger.ts'
import { makeOrder } from '../../shared/order.ts'
import { alreadyProcessedOrderId, isDroppedLine, receivedOrderId } from '../../shared/log-lines.ts'

// A logger that keeps its lines, so tests can check what an operator would read.
function captureLogs () {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done() }
  })
  return { lines, logger: pino({ level: 'debug' }, stream) }
}

let app: ReturnType<typeof buildApp> | undefined
afterEach(async () => { await app?.close(); app = undefined })

function build (options: Partial<AppOptions> = {}) {
  const logs = captureLogs()
  app = buildApp({ topic: 'orders', logger: logs.logger, ...options })
  return { app, logs }
}

const order = makeOrder(7)
// What daprd posts: a structured CloudEvent (see Dapr's pubsub envelope).
const envelope = {
  specversion: '1.0',
  id: '5929aaac-a5e2-4ca1-859c-edfe73f11565',
  source: 'checkout',
  type: 'com.dapr.event.sent',
  datacontenttype: 'application/json',
  data: order,
  topic: 'orders',
  pubsubname: 'orderpubsub',
  traceid: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  time: '2026-11-22T04:00:00Z'
}

function post (body: string | Buffer, headers: Record<string, string>, url = '/orders') {
  return app!.inject({ method: 'POST', url, payload: body, headers })
}
const asCloudEvent = { 'content-type': 'application/cloudevents+json' }

describe('GET /dapr/subscribe', () => {
  it('announces the orders topic with its dead-letter topic, and the dead-letter topic itself', async () => {
    const { app } = build({ topic: 'orders-test' })
    const res = await app.inject({ method: 'GET', url: '/dapr/subscribe' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual([
      { pubsubname: 'orderpubsub', topic: 'orders-test', route: '/orders', deadLetterTopic: 'orders-test-deadletter' },
      { pubsubname: 'orderpubsub', topic: 'orders-test-deadletter', route: '/deadletters' }
    ])
  })
})

describe('GET /dapr/subscribe with declarative or streaming subscriptions', () => {
  it.each(['declarative', 'streaming'] as const)('announces none when %s: the sidecar takes them from subscriptions/*.yaml, or from the app\'s stream', async (subscriptions) => {
    const { app } = build({ subscriptions })
    expect((await app.inject({ method: 'GET', url: '/dapr/subscribe' })).json()).toEqual([])
  })
})

describe('GET /healthz', () => {
  it('answers ok', async () => {
    const { app } = build()
    const res = await app.inject({ method: 'GET', url: '/healthz' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ status: 'ok' })
  })
})

describe('POST /orders', () => {
  it('processes a structured CloudEvent (application/cloudevents+json) and answers SUCCESS', async () => {
    const seen: number[] = []
    const { logs } = build({ processOrder: (o) => { seen.push(o.orderId) } })
    const res = await post(JSON.stringify(envelope), { 'content-type': 'application/cloudevents+json' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ status: 'SUCCESS' })
    expect(seen).toEqual([7])
    const line = logs.lines.find((l) => receivedOrderId(String(l.msg)) !== undefined)
    expect(line?.msg).toBe('Subscriber received: orderId=7, customerName=Customer 7, amount=70, status=Pending')
    expect(line?.eventId).toBe(envelope.id)
  })

  it('processes a binary-mode CloudEvent (ce-* headers, the order as the body)', async () => {
    const seen: number[] = []
    build({ processOrder: (o) => { seen.push(o.orderId) } })
    const res = await post(JSON.stringify(order), {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': 'abc-1',
      'ce-source': 'checkout',
      'ce-type': 'com.dapr.event.sent'
    })
    expect(res.json()).toEqual({ status: 'SUCCESS' })
    expect(seen).toEqual([7])
  })

  it('processes a plain JSON order', async () => {
    const seen: number[] = []
    build({ processOrder: (o) => { seen.push(o.orderId) } })
    const res = await post(JSON.stringify(order), { 'content-type': 'application/json' })
    expect(res.json()).toEqual({ status: 'SUCCESS' })
    expect(seen).toEqual([7])
  })

  it('answers DROP (never 400, which Dapr redelivers forever) to an invalid order and logs why', async () => {
    const seen: number[] = []
    const { logs } = build({ processOrder: (o) => { seen.push(o.orderId) } })
    const bad = { ...envelope, data: { orderId: -1, customerName: '', amount: 'ten' } }
    const res = await post(JSON.stringify(bad), { 'content-type': 'application/cloudevents+json' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ status: 'DROP' })
    expect(seen).toEqual([])
    const warn = logs.lines.find((l) => isDroppedLine(String(l.msg)))
    expect(warn?.reason).toMatch(/orderId must be >= 1/)
    expect(warn?.reason).toMatch(/must have required property 'status'/)
  })

  it('drops a double-encoded order (data is a JSON string) and says how it happened', async () => {
    const { logs } = build()
    const res = await post(JSON.stringify({ ...envelope, data: JSON.stringify(order) }), { 'content-type': 'application/cloudevents+json' })
    expect(res.json()).toEqual({ status: 'DROP' })
    expect(logs.lines.some((l) => String(l.reason).includes('JSON.stringify'))).toBe(true)
  })

  it('drops an envelope that is not a valid CloudEvent', async () => {
    const { logs } = build()
    const res = await post(JSON.stringify({ data: order }), { 'content-type': 'application/cloudevents+json' })
    expect(res.json()).toEqual({ status: 'DROP' })
    expect(logs.lines.some((l) => String(l.reason).startsWith('not a valid CloudEvent'))).toBe(true)
  })

  it('answers DROP with 200 to a body that is not JSON', async () => {
    const { logs } = build()
    const res = await post('{"orderId": 1,', { 'content-type': 'application/cloudevents+json' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ status: 'DROP' })
    // The same decision, line and count as any other order that can never be valid.
    expect(logs.lines.find((l) => l.level === 40 && isDroppedLine(String(l.msg), '?') && String(l.reason).startsWith('the body is not valid JSON'))).toBeDefined()
    expect((await app!.inject({ method: 'GET', url: '/stats' })).json()).toMatchObject({ received: 1, dropped: 1 })
  })

  it('answers DROP with 200 (not 415) to an unsupported content type', async () => {
    const { logs } = build()
    const res = await post('<order id="1"/>', { 'content-type': 'application/xml' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ status: 'DROP' })
    expect(logs.lines.some((l) => String(l.reason).includes('unsupported content type "application/xml"'))).toBe(true)
  })

  it('answers RETRY when processing fails, and never a silent SUCCESS', async () => {
    const { logs } = build({ processOrder: () => { throw new Error('inventory service down') } })
    const res = await post(JSON.stringify(envelope), { 'content-type': 'application/cloudevents+json' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ status: 'RETRY' })
    expect(logs.lines.some((l) => l.level === 50 && String(l.msg).includes('retry'))).toBe(true)
  })
})

describe('idempotency', () => {
  it('records, counts and logs a redelivered event once, and acknowledges the redelivery', async () => {
    const seen: number[] = []
    const ledger = memoryLedger()
    const { logs } = build({ ledger, processOrder: (o) => { seen.push(o.orderId) } })
    const first = await post(JSON.stringify(envelope), asCloudEvent)
    const again = await post(JSON.stringify(envelope), asCloudEvent)
    expect([first.json(), again.json()]).toEqual([{ status: 'SUCCESS' }, { status: 'SUCCESS' }])
    // The work runs before the one ledger call (the commit point), so a redelivery runs it
    // again: processOrder must be idempotent (README, "Delivery guarantees").
    expect(seen).toEqual([7, 7])
    expect([...ledger.entries.keys()]).toEqual([`processed:orders:checkout:${envelope.id}`])
    expect(logs.lines.filter((l) => receivedOrderId(String(l.msg)) !== undefined)).toHaveLength(1)
    expect(logs.lines.some((l) => alreadyProcessedOrderId(String(l.msg)) === 7)).toBe(true)
    expect((await app!.inject({ method: 'GET', url: '/stats' })).json()).toMatchObject({ received: 2, processed: 1, duplicates: 1 })
  })

  it('processes the same order published again as a new event (a new CloudEvent id)', async () => {
    const seen: number[] = []
    build({ processOrder: (o) => { seen.push(o.orderId) } })
    await post(JSON.stringify(envelope), asCloudEvent)
    await post(JSON.stringify({ ...envelope, id: 'another-event' }), asCloudEvent)
    expect(seen).toEqual([7, 7])
  })

  it('answers RETRY, and records nothing, when processing fails', async () => {
    const ledger = memoryLedger()
    build({ ledger, processOrder: () => { throw new Error('a dependency is down') } })
    expect((await post(JSON.stringify(envelope), asCloudEvent)).json()).toEqual({ status: 'RETRY' })
    expect(ledger.entries.size).toBe(0)
  })

  it('answers RETRY when the state store cannot be reached', async () => {
    const ledger: Ledger = { record: async () => { throw new Error('ECONNREFUSED') } }
    const { logs } = build({ ledger })
    expect((await post(JSON.stringify(envelope), asCloudEvent)).json()).toEqual({ status: 'RETRY' })
    expect(logs.lines.filter((l) => receivedOrderId(String(l.msg)) !== undefined)).toHaveLength(0)
  })

  it('answers RETRY when the order cannot be recorded, and SUCCESS once it is', async () => {
    const ledger = memoryLedger()
    let down = true
    const record = ledger.record
    ledger.record = async (items) => { if (down) throw new Error('state store down'); return record(items) }
    const { logs } = build({ ledger })
    expect((await post(JSON.stringify(envelope), asCloudEvent)).json()).toEqual({ status: 'RETRY' })
    down = false
    expect((await post(JSON.stringify(envelope), asCloudEvent)).json()).toEqual({ status: 'SUCCESS' })
    expect(logs.lines.filter((l) => receivedOrderId(String(l.msg)) !== undefined)).toHaveLength(1)
    expect((await app!.inject({ method: 'GET', url: '/stats' })).json()).toMatchObject({ retried: 1, processed: 1 })
  })
})

describe('POST /orders/bulk (bulk subscribe)', () => {
  const entry = (entryId: string, event: unknown, contentType = 'application/cloudevents+json') => ({ entryId, event, contentType, metadata: {} })
  const batch = (entries: unknown[]) => post(JSON.stringify({ id: 'batch-1', entries, pubsubname: 'orderpubsub', topic: 'orders', type: 'com.dapr.event.sent.bulk' }), { 'content-type': 'application/json' }, '/orders/bulk')

  it('is announced on GET /dapr/subscribe with its batch limits when bulk is on', async () => {
    const { app } = build({ bulk: true })
    expect((await app.inject({ method: 'GET', url: '/dapr/subscribe' })).json()[0]).toEqual({
      pubsubname: 'orderpubsub', topic: 'orders', route: '/orders/bulk', deadLetterTopic: 'orders-deadletter',
      bulkSubscribe: { enabled: true, maxMessagesCount: 100, maxAwaitDurationMs: 40 }
    })
  })

  it('answers each entry: SUCCESS for new orders and a redelivery, DROP for a poison order; records each event once, in one ledger call', async () => {
    const ledger = memoryLedger()
    const calls: number[] = []
    const record = ledger.record
    ledger.record = async (items) => { calls.push(items.length); return record(items) }
    const { logs } = build({ ledger })
    const second = { ...envelope, id: 'event-8', data: makeOrder(8) }
    const poison = { ...envelope, id: 'event-poison', data: { orderId: 'poison-1', amount: -1 } }
    const res = await batch([entry('a', envelope), entry('b', second), entry('c', poison)])
    expect(res.json()).toEqual({ statuses: [{ entryId: 'a', status: 'SUCCESS' }, { entryId: 'b', status: 'SUCCESS' }, { entryId: 'c', status: 'DROP' }] })
    expect(calls).toEqual([2])
    // The same batch again, as after a crash before the answer: acknowledged, not counted twice.
    expect((await batch([entry('a', envelope), entry('b', second)])).json().statuses.map((s: { status: string }) => s.status)).toEqual(['SUCCESS', 'SUCCESS'])
    expect([...ledger.entries.keys()].sort()).toEqual([`processed:orders:checkout:${envelope.id}`, 'processed:orders:checkout:event-8'])
    expect(logs.lines.filter((l) => receivedOrderId(String(l.msg)) !== undefined)).toHaveLength(2)
    expect((await app!.inject({ method: 'GET', url: '/stats' })).json()).toMatchObject({ received: 5, processed: 2, duplicates: 2, dropped: 1 })
  })

  it('answers RETRY for the entries whose processing or recording failed, SUCCESS for the others', async () => {
    build({ processOrder: (o) => { if (o.orderId === 8) throw new Error('a dependency is down') } })
    const res = await batch([entry('a', envelope), entry('b', { ...envelope, id: 'event-8', data: makeOrder(8) }), entry('c', 'not an event')])
    expect(res.json().statuses.map((s: { status: string }) => s.status)).toEqual(['SUCCESS', 'RETRY', 'DROP'])
    await app!.close()
    const ledger: Ledger = { record: async () => { throw new Error('state store down') } }
    build({ ledger })
    expect((await batch([entry('a', envelope)])).json().statuses).toEqual([{ entryId: 'a', status: 'RETRY' }])
  })
})

describe('a malformed delivery, on every route: answered 200 as the contract says, never 4xx (Dapr redelivers those forever)', () => {
  const notJson = '{"orderId": 1,'

  it('POST /orders/priority: DROP, counted and logged like any order that can never be valid', async () => {
    const { logs } = build({ routing: true })
    const res = await post(notJson, asCloudEvent, '/orders/priority')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ status: 'DROP' })
    expect(logs.lines.filter((l) => isDroppedLine(String(l.msg), '?') && String(l.reason).startsWith('the body is not valid JSON'))).toHaveLength(1)
    expect((await app!.inject({ method: 'GET', url: '/stats' })).json()).toMatchObject({ received: 1, dropped: 1 })
  })

  it('POST /orders/bulk, a body that is not JSON: 200 with no statuses (no entry to name), logged and counted once', async () => {
    const { logs } = build()
    const res = await post(notJson, { 'content-type': 'application/json' }, '/orders/bulk')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ statuses: [] })
    expect(logs.lines.filter((l) => isDroppedLine(String(l.msg), '?') && String(l.reason).startsWith('the body is not valid JSON'))).toHaveLength(1)
    expect((await app!.inject({ method: 'GET', url: '/stats' })).json()).toMatchObject({ received: 1, dropped: 1, processed: 0 })
  })

  it('POST /orders/bulk, JSON that is not a batch: 200 with no statuses, and says why', async () => {
    const { logs } = build()
    for (const body of [{ orders: [] }, { entries: 'none' }, [1, 2]]) {
      const res = await post(JSON.stringify(body), { 'content-type': 'application/json' }, '/orders/bulk')
      expect(res.statusCode, JSON.stringify(body)).toBe(200)
      expect(res.json()).toEqual({ statuses: [] })
    }
    // Fastify's validator makes a lone value an array ({ entries: 'none' } has one entry, without an id).
    expect(logs.lines.filter((l) => isDroppedLine(String(l.msg), '?')).map((l) => l.reason)).toEqual([
      'a bulk delivery without an entries array', '1 of 1 entries of a bulk delivery have no entryId', 'a bulk delivery without an entries array'
    ])
  })

  it('POST /orders/bulk, a batch with a malformed entry: DROP for that entry, the others answered as usual, an entry without an id logged (it cannot be answered)', async () => {
    const { logs } = build()
    const entries = [{ entryId: 'a', event: envelope, contentType: 'application/cloudevents+json' }, { entryId: 'b', event: '{"broken', contentType: 'application/cloudevents+json' }, { event: envelope }]
    const res = await post(JSON.stringify({ entries }), { 'content-type': 'application/json' }, '/orders/bulk')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ statuses: [{ entryId: 'a', status: 'SUCCESS' }, { entryId: 'b', status: 'DROP' }] })
    expect(logs.lines.filter((l) => isDroppedLine(String(l.msg))).map((l) => l.reason)).toEqual([
      '1 of 3 entries of a bulk delivery have no entryId', expect.stringMatching(/^not a valid CloudEvent/)
    ])
  })

  it('POST /deadletters, a body that is not JSON or not supported: acknowledged and logged as a dead letter with the reason', async () => {
    const { logs } = build()
    for (const [body, type] of [[notJson, 'application/cloudevents+json'], ['<order/>', 'application/xml']] as const) {
      const res = await post(body, { 'content-type': type }, '/deadletters')
      expect(res.statusCode).toBe(200)
      expect(res.json()).toEqual({ status: 'SUCCESS' })
    }
    const dead = logs.lines.filter((l) => String(l.msg).startsWith('Dead letter #'))
    expect(dead.map((l) => l.reason)).toEqual([expect.stringMatching(/^the body is not valid JSON/), 'unsupported content type "application/xml"'])
  })

  it('a body over the size limit: the same DROP, not a 413', async () => {
    build()
    const res = await post(JSON.stringify({ ...envelope, data: { ...order, note: 'x'.repeat(1_100_000) } }), asCloudEvent)
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ status: 'DROP' })
  })
})

describe('POST /deadletters', () => {
  it('logs a dropped order with its orderId and the reason, once, and counts it', async () => {
    const { logs } = build()
    const poison = { ...envelope, id: 'poison-event', data: { orderId: 'poison-1', amount: -1 } }
    for (let i = 0; i < 2; i++) {
      const res = await post(JSON.stringify(poison), asCloudEvent, '/deadletters')
      expect(res.json()).toEqual({ status: 'SUCCESS' })
    }
    const lines = logs.lines.filter((l) => String(l.msg).startsWith('Dead letter #'))
    expect(lines).toHaveLength(1)
    expect(lines[0]!.msg).toMatch(/^Dead letter #1: orderId="poison-1" \(event poison-event\): .*must have required property 'customerName'/)
    expect((await app!.inject({ method: 'GET', url: '/stats' })).json()).toMatchObject({ deadLettered: 1 })
  })

  it('says a valid order was dead-lettered because its retries ran out', async () => {
    const { logs } = build()
    await post(JSON.stringify(envelope), asCloudEvent, '/deadletters')
    expect(logs.lines.some((l) => l.msg === `Dead letter #1: orderId=7 (event ${envelope.id}): processing kept failing until the retry policy gave up`)).toBe(true)
  })

  it('acknowledges a dead letter even when the ledger is down (nothing loops)', async () => {
    const ledger: Ledger = { record: async () => { throw new Error('down') } }
    build({ ledger })
    expect((await post('not json at all', { 'content-type': 'text/plain' }, '/deadletters')).json()).toEqual({ status: 'SUCCESS' })
    expect((await post(JSON.stringify(envelope), asCloudEvent, '/deadletters')).json()).toEqual({ status: 'SUCCESS' })
  })
})

describe('APP_API_TOKEN', () => {
  const token = 's3cret-token'
  const routes = [
    { method: 'GET', url: '/dapr/subscribe' },
    { method: 'POST', url: '/orders' },
    { method: 'POST', url: '/deadletters' },
    { method: 'GET', url: '/stats' }
  ] as const

  it('refuses every route but /healthz without the matching dapr-api-token header (401)', async () => {
    const seen: number[] = []
    build({ apiToken: token, processOrder: (o) => { seen.push(o.orderId) } })
    for (const { method, url } of routes) {
      for (const headers of [{}, { 'dapr-api-token': 'wrong' }, { 'dapr-api-token': `${token}x` }]) {
        const res = await app!.inject({ method, url, headers: { ...asCloudEvent, ...headers }, payload: method === 'POST' ? JSON.stringify(envelope) : undefined })
        expect(res.statusCode, `${method} ${url} ${JSON.stringify(headers)}`).toBe(401)
      }
    }
    expect(seen).toEqual([])
    expect((await app!.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
  })

  it('serves the sidecar, which sends the token', async () => {
    build({ apiToken: token })
    const res = await post(JSON.stringify(envelope), { ...asCloudEvent, 'dapr-api-token': token })
    expect(res.json()).toEqual({ status: 'SUCCESS' })
    expect((await app!.inject({ method: 'GET', url: '/dapr/subscribe', headers: { 'dapr-api-token': token } })).statusCode).toBe(200)
  })
})

describe('simulatedOutage', () => {
  it('fails for the given time after the first order, then lets orders through', () => {
    let now = 1_000
    const processOrder = simulatedOutage(3_000, () => now)!
    expect(() => processOrder(order, undefined as never)).toThrow(/simulated outage/)
    now += 2_999
    expect(() => processOrder(order, undefined as never)).toThrow(/simulated outage/)
    now += 1
    expect(() => processOrder(order, undefined as never)).not.toThrow()
  })
})

describe('GET /metrics', () => {
  it('counts in Prometheus format what the order-processor did, and times the handler by answer', async () => {
    build({ apiToken: 'tok' })
    const headers = { ...asCloudEvent, 'dapr-api-token': 'tok' }
    await post(JSON.stringify(envelope), headers)
    await post(JSON.stringify(envelope), headers) // a redelivery
    await post(JSON.stringify({ ...envelope, id: 'bad', data: { orderId: 'x' } }), headers)
    await post('{"broken', headers)
    await post(JSON.stringify({ ...envelope, id: 'dl' }), headers, '/deadletters')

    // Open without the token: scrapers cannot send Dapr's header.
    const res = await app!.inject({ method: 'GET', url: '/metrics' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/)
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(res.body)?.[1])
    expect(value('orders_received_total')).toBe(4)
    expect(value('orders_processed_total')).toBe(1)
    expect(value('orders_duplicates_total')).toBe(1)
    expect(value('orders_dropped_total')).toBe(2)
    expect(value('orders_retried_total')).toBe(0)
    expect(value('orders_dead_lettered_total')).toBe(1)
    expect(value('order_handler_seconds_count{status="SUCCESS"}')).toBe(2)
    // The poison order and the broken body: both answered DROP by the same handler.
    expect(value('order_handler_seconds_count{status="DROP"}')).toBe(2)
  })
})

describe('live view', () => {
  it('serves a page that needs nothing from the network', async () => {
    build()
    const res = await app!.inject({ method: 'GET', url: '/' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/html/)
    expect(res.body).toContain('new EventSource(')
    expect(res.body).not.toMatch(/(src|href)="https?:/)
  })

  it('streams the run so far, then each outcome as it happens (server-sent events)', async () => {
    build({ topic: 'orders-live', broker: async () => 'pubsub.redis' })
    await post(JSON.stringify(envelope), asCloudEvent)
    const address = await app!.listen({ host: '127.0.0.1', port: 0 })
    const stop = new AbortController()
    const res = await fetch(`${address}/events`, { signal: stop.signal })
    expect(res.headers.get('content-type')).toBe('text/event-stream')
    const reader = res.body!.getReader()
    let text = ''
    const readUntil = async (what: string) => {
      while (!text.includes(what)) text += new TextDecoder().decode((await reader.read()).value)
    }
    await readUntil('\n\n')
    const hello = JSON.parse(/^event: hello\ndata: (.*)$/m.exec(text)![1]!)
    expect(hello).toMatchObject({ topic: 'orders-live', broker: 'pubsub.redis', counts: { processed: 1 }, recent: [{ kind: 'processed', orderId: '7' }] })

    await post(JSON.stringify({ ...envelope, id: 'bad', data: { orderId: 'x' } }), asCloudEvent)
    await readUntil('event: order')
    await readUntil('\n\n')
    expect(JSON.parse(/^event: order\ndata: (.*)$/m.exec(text)![1]!)).toMatchObject({ kind: 'dropped', orderId: '"x"' })
    stop.abort()
  })

  it('with APP_API_TOKEN, lets a browser in with ?token= on the page and its stream only', async () => {
    build({ apiToken: 'tok' })
    expect((await app!.inject({ method: 'GET', url: '/' })).statusCode).toBe(401)
    expect((await app!.inject({ method: 'GET', url: '/?token=nope' })).statusCode).toBe(401)
    expect((await app!.inject({ method: 'GET', url: '/?token=tok' })).statusCode).toBe(200)
    expect((await app!.inject({ method: 'GET', url: '/stats?token=tok' })).statusCode).toBe(401)
  })
})
