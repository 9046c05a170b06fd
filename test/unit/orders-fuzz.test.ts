// Property-based fuzzing of POST /orders: whatever arrives, the order-processor answers
// within Dapr's status contract and never with a 5xx (which the sidecar would redeliver
// forever) — and never crashes.
import fc from 'fast-check'
import { pino } from 'pino'
import { afterAll, describe, expect, it } from 'vitest'
import { buildApp } from '../../shared/subscriber/app.ts'
import { orderProblem } from '../../shared/order.ts'

const processed: unknown[] = []
const app = buildApp({ topic: 'orders', logger: pino({ level: 'silent' }), processOrder: (order) => { processed.push(order) } })
afterAll(() => app.close())

const contentTypes = fc.oneof(
  fc.constantFrom('application/cloudevents+json', 'application/json', 'text/plain', 'application/octet-stream',
    'application/xml', 'application/cloudevents-batch+json', 'application/json; charset=utf-8', 'multipart/form-data', ''),
  fc.string({ maxLength: 40 })
)

const validOrder = fc.record({
  orderId: fc.integer({ min: 1 }),
  customerName: fc.string({ minLength: 1 }),
  amount: fc.double({ min: 0, noNaN: true, noDefaultInfinity: true }),
  status: fc.string({ minLength: 1 })
})
const anyData = fc.oneof(validOrder, fc.jsonValue(), fc.anything())
const cloudEvent = fc.record({
  specversion: fc.oneof(fc.constant('1.0'), fc.constant('0.3'), fc.string()),
  id: fc.oneof(fc.uuid(), fc.string()),
  source: fc.oneof(fc.constant('checkout'), fc.string()),
  type: fc.oneof(fc.constant('com.dapr.event.sent'), fc.string()),
  datacontenttype: fc.constantFrom('application/json', 'text/plain', 'application/xml'),
  data: anyData,
  topic: fc.constant('orders')
}, { requiredKeys: [] })

// Bodies as bytes: JSON of an envelope or an order, arbitrary text, arbitrary bytes.
const body = fc.oneof(
  cloudEvent.map((e) => JSON.stringify(e) ?? ''),
  anyData.map((d) => JSON.stringify(d) ?? ''),
  fc.string({ unit: 'binary' }),
  fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b))
)

const ceHeaders = fc.dictionary(
  fc.constantFrom('ce-specversion', 'ce-id', 'ce-source', 'ce-type', 'ce-time', 'ce-datacontenttype', 'content-encoding', 'x-anything'),
  fc.string({ maxLength: 20 }).filter((v) => /^[\x20-\x7e]*$/.test(v)),
  { maxKeys: 5 }
)

async function deliver (payload: string | Buffer, contentType: string, headers: Record<string, string>) {
  const res = await app.inject({ method: 'POST', url: '/orders', payload, headers: { ...headers, 'content-type': contentType } })
  return { statusCode: res.statusCode, json: () => res.json() as { status?: string } }
}

describe('POST /orders under random input', () => {
  it('never answers 5xx, and every 200 carries SUCCESS or DROP', async () => {
    await fc.assert(fc.asyncProperty(body, contentTypes, ceHeaders, async (payload, contentType, headers) => {
      const res = await deliver(payload, contentType, headers)
      expect(res.statusCode).toBe(200)
      // Nothing here can fail for a while (no dependency is down), so RETRY would be wrong too.
      expect(['SUCCESS', 'DROP']).toContain(res.json().status)
    }), { numRuns: 3000 })
  })

  it('answers SUCCESS to every valid order in a valid envelope and DROP to every invalid order', async () => {
    await fc.assert(fc.asyncProperty(anyData, fc.uuid(), async (data, id) => {
      const envelope = { specversion: '1.0', id, source: 'checkout', type: 'com.dapr.event.sent', datacontenttype: 'application/json', data }
      const payload = JSON.stringify(envelope)
      const res = await deliver(payload, 'application/cloudevents+json', {})
      expect(res.statusCode).toBe(200)
      // What survives JSON is what the sidecar would deliver.
      const delivered = (JSON.parse(payload) as { data?: unknown }).data
      expect(res.json().status).toBe(delivered !== undefined && typeof delivered !== 'string' && orderProblem(delivered) === undefined ? 'SUCCESS' : 'DROP')
    }), { numRuns: 2000 })
    expect(processed.length).toBeGreaterThan(0)
  })
})
