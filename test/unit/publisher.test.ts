import { describe, expect, it } from 'vitest'
import { pino } from 'pino'
import type { DaprClient } from '@dapr/dapr'
import { makeOrder, makePoisonOrder } from '../../shared/order.ts'
import { publishOrders } from '../../shared/publishing.ts'
import { readFileSync } from 'node:fs'
import { parse } from 'dotenv'
import { loadConfig, ConfigError, CONFIG_VARIABLES } from '../../shared/config.ts'
import { orderProblem } from '../../shared/order.ts'
import { acceptedBeforeStopped, partlyAcceptedLine } from '../../shared/log-lines.ts'

describe('makeOrder', () => {
  it('builds the lab order N', () => {
    expect(makeOrder(1)).toEqual({ orderId: 1, customerName: 'Customer 1', amount: 10, status: 'Pending' })
    expect(makeOrder(19)).toEqual({ orderId: 19, customerName: 'Customer 19', amount: 190, status: 'Pending' })
  })

  it('builds orders the order-processor accepts', () => {
    for (let n = 1; n <= 19; n++) expect(orderProblem(makeOrder(n))).toBeUndefined()
  })
})

describe('loadConfig', () => {
  it('applies the lab defaults', () => {
    const config = loadConfig({})
    expect(config).toMatchObject({ topic: 'orders', orderCount: 19, publishIntervalMs: 1000, appPort: 6001, daprHttpPort: 3500, appHost: '127.0.0.1' })
  })

  it('accepts .env.example as it is, and .env.example names every variable', () => {
    const text = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8')
    expect(loadConfig(parse(text))).toMatchObject({ orderCount: 19, publishIntervalMs: 1000, topic: 'orders' })
    for (const name of CONFIG_VARIABLES) expect(text, name).toMatch(new RegExp(`^#? ?${name}=`, 'm'))
  })

  it('turns numeric variables into numbers', () => {
    const config = loadConfig({ ORDER_COUNT: '5', PUBLISH_INTERVAL_MS: '0', APP_PORT: '7001', DAPR_HTTP_PORT: '3601' })
    expect(config).toMatchObject({ orderCount: 5, publishIntervalMs: 0, appPort: 7001, daprHttpPort: 3601 })
  })

  it.each([
    ['ORDER_COUNT', 'many', /ORDER_COUNT must be integer/],
    ['ORDER_COUNT', '0', /ORDER_COUNT must be >= 1/],
    ['PUBLISH_INTERVAL_MS', '-5', /PUBLISH_INTERVAL_MS must be >= 0/],
    ['APP_PORT', '70000', /APP_PORT must be <= 65535/],
    ['LOG_FORMAT', 'xml', /LOG_FORMAT must be equal to one of the allowed values/]
  ])('rejects %s=%s with a message naming the variable', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError)
    expect(() => loadConfig({ [name]: value })).toThrow(message)
    expect(() => loadConfig({ [name]: value })).toThrow(/\.env\.example/)
  })
})

// A stand-in for the SDK's pubsub API, shaped like its HTTP client: it returns
// `{ error }` rather than throwing.
function fakeClient (fail: (orderId: number) => boolean) {
  const published: Array<{ pubsub: string, topic: string, data: unknown }> = []
  const client = {
    pubsub: {
      publish: async (pubsub: string, topic: string, data: { orderId: number }) => {
        published.push({ pubsub, topic, data })
        return fail(data.orderId) ? { error: new Error('broker unavailable') } : {}
      }
    }
  } as unknown as DaprClient
  return { client, published }
}

describe('publishOrders', () => {
  const log = pino({ level: 'silent' })

  it('publishes each order as an object to orderpubsub/<topic> and counts acceptances', async () => {
    const { client, published } = fakeClient(() => false)
    const config = loadConfig({ ORDER_COUNT: '3', PUBLISH_INTERVAL_MS: '0', ORDERS_TOPIC: 'orders-x' })
    expect(await publishOrders(client, config, log)).toEqual({ accepted: 3, failed: 0, poison: 0 })
    expect(published).toEqual([1, 2, 3].map((n) => ({ pubsub: 'orderpubsub', topic: 'orders-x', data: makeOrder(n) })))
  })

  it('counts a returned {error} as a failure instead of a success', async () => {
    const { client } = fakeClient((id) => id === 2)
    const config = loadConfig({ ORDER_COUNT: '3', PUBLISH_INTERVAL_MS: '0' })
    expect(await publishOrders(client, config, log)).toEqual({ accepted: 2, failed: 1, poison: 0 })
  })

  it('stops early when aborted', async () => {
    const { client, published } = fakeClient(() => false)
    const stop = new AbortController()
    stop.abort()
    const config = loadConfig({ ORDER_COUNT: '19', PUBLISH_INTERVAL_MS: '0' })
    expect(await publishOrders(client, config, log, stop.signal)).toEqual({ accepted: 0, failed: 0, poison: 0 })
    expect(published).toEqual([])
  })

  it('a checkout stopped by a signal says how many orders Dapr accepted, in a line that reads back, plain or as JSON', () => {
    const line = partlyAcceptedLine(7, 19, 'stopped by a signal')
    expect(line).toBe('Only 7 of 19 orders were accepted: stopped by a signal.')
    expect(acceptedBeforeStopped(['Published data: {"orderId":7}', line])).toBe(7)
    expect(acceptedBeforeStopped([JSON.stringify({ level: 50, msg: line })])).toBe(7)
    expect(acceptedBeforeStopped([partlyAcceptedLine(7, 19, '1 publish(es) failed (see the errors above)')])).toBeUndefined()
  })

  it('with POISON_EVERY=2 also sends, after every 2nd order, an order the order-processor drops', async () => {
    const { client, published } = fakeClient(() => false)
    const config = loadConfig({ ORDER_COUNT: '6', PUBLISH_INTERVAL_MS: '0', POISON_EVERY: '2' })
    expect(await publishOrders(client, config, log)).toEqual({ accepted: 6, failed: 0, poison: 3 })
    expect(published.map((p) => p.data)).toEqual([
      makeOrder(1), makeOrder(2), makePoisonOrder(1), makeOrder(3), makeOrder(4), makePoisonOrder(2), makeOrder(5), makeOrder(6), makePoisonOrder(3)
    ])
    for (const k of [1, 2, 3]) {
      const poison = makePoisonOrder(k)
      expect(orderProblem(typeof poison === 'string' ? poison : JSON.parse(JSON.stringify(poison))), `poison ${k}`).toBeDefined()
    }
    expect(new Set([1, 2, 3].map((k) => typeof makePoisonOrder(k)))).toEqual(new Set(['object', 'string']))
  })
})
