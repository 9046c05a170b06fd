// Fan-out: a second subscribing app (shipping) with an app id of its own receives every
// order as well; each app processes each order once.
import { afterAll, describe, expect, it } from 'vitest'
import { Lab, expectEachOnce, portIsFree, uniqueTopic } from './lab.ts'
import { allAcceptedLine, appPrefix, shippedOrderId } from '../../shared/log-lines.ts'

describe('npm start -- --fanout', () => {
  const topic = uniqueTopic()
  let lab: Lab | undefined

  afterAll(() => lab?.dispose())

  it('delivers orderId 1..19 exactly once to the order-processor and exactly once to shipping', async () => {
    lab = new Lab(topic, { PUBLISH_INTERVAL_MS: '20' }, ['--fanout'])
    const port = await lab.appPort('shipping')
    const shipped = () => lab!.lines.filter((l) => l.startsWith(appPrefix('shipping'))).flatMap((l) => shippedOrderId(l) ?? [])
    await lab.until('19 orders at both subscribers', () => new Set(lab!.received()).size === 19 && new Set(shipped()).size === 19)
    await lab.until('the checkout to report all orders accepted', () => lab!.output.includes(allAcceptedLine(19)), 30_000)
    await lab.stop()
    expectEachOnce(lab.received(), lab.output)
    expectEachOnce(shipped(), lab.output)
    expect(await portIsFree(port)).toBe(true)
  })
})
