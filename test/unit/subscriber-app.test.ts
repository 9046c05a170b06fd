import { afterEach, describe, expect, it } from 'vitest'
import { pino } from 'pino'
import { Writable } from 'node:stream'
import { buildApp, type AppOptions } from '../../subscriber/src/app.ts'
import { makeOrder } from '../../publisher/src/orders.ts'

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

function post (body: string | Buffer, headers: Record<string, string>) {
  return app!.inject({ method: 'POST', url: '/orders', payload: body, headers })
}

describe('GET /dapr/subscribe', () => {
  it('announces the orders topic of orderpubsub, routed to /orders', async () => {
    const { app } = build({ topic: 'orders-test' })
    const res = await app.inject({ method: 'GET', url: '/dapr/subscribe' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual([{ pubsubname: 'orderpubsub', topic: 'orders-test', route: '/orders' }])
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
    const line = logs.lines.find((l) => String(l.msg).startsWith('Subscriber received:'))
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
    const warn = logs.lines.find((l) => String(l.msg).startsWith('Dropping order'))
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
    expect(logs.lines.some((l) => l.level === 40 && String(l.msg).includes('cannot be read'))).toBe(true)
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
