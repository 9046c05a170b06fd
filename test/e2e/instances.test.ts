// Competing consumers: three order-processors under one app id share one consumer group,
// so the broker hands each order to exactly one of them.
import { afterAll, describe, expect, it } from 'vitest'
import { Lab, processedOrderIds, uniqueTopic } from './lab.ts'
import { allAcceptedLine, instanceOf, receivedOrderId } from '../../shared/log-lines.ts'

describe('npm start -- --instances 3', () => {
  const topic = uniqueTopic()
  const count = 60
  let lab: Lab | undefined

  afterAll(() => lab?.dispose())

  it('processes each order exactly once across the three instances, and shares them out', async () => {
    lab = new Lab(topic, { ORDER_COUNT: String(count), PUBLISH_INTERVAL_MS: '20' }, ['--instances', '3'])
    const ports = [await lab.appPort('order-processor', 1), await lab.appPort('order-processor', 2), await lab.appPort('order-processor', 3)]
    expect(new Set(ports).size, 'a port of its own for each instance').toBe(3)
    await lab.until(`${count} orders processed`, () => lab!.received().length >= count)
    await lab.until('the checkout to report all orders accepted', () => lab!.output.includes(allAcceptedLine(count)), 30_000)

    const byInstance = new Map<number, number[]>()
    for (const line of lab.lines) {
      const instance = instanceOf(line, 'order-processor')
      const orderId = receivedOrderId(line)
      if (instance && orderId !== undefined) byInstance.set(instance, [...(byInstance.get(instance) ?? []), orderId])
    }
    const all = [...byInstance.values()].flat().sort((a, b) => a - b)
    expect(all, 'each order once, across all instances').toEqual(Array.from({ length: count }, (_, i) => i + 1))
    expect((await processedOrderIds(topic)).sort((a, b) => a - b)).toEqual(all)
    expect(byInstance.size, `orders per instance: ${JSON.stringify(Object.fromEntries([...byInstance].map(([k, v]) => [k, v.length])))}`).toBeGreaterThanOrEqual(2)
    await lab.stop()
  })
})
