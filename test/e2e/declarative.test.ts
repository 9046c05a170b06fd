// Declarative subscriptions (subscriptions/*.yaml, dapr.io/v2alpha1 with scopes) instead of
// the app's GET /dapr/subscribe: the same lab, dead letters included.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parseAllDocuments } from 'yaml'
import { deadLetterTopic } from '../../shared/pubsub.ts'
import { Lab, expectEachOnce, uniqueTopic } from './lab.ts'
import { isDeadLetterLine } from '../../shared/log-lines.ts'

describe('npm start -- --declarative', () => {
  const topic = uniqueTopic()
  let lab: Lab | undefined

  afterAll(() => lab?.dispose())

  it('delivers orderId 1..19 exactly once and dead-letters the poison order, with no programmatic subscription', async () => {
    lab = new Lab(topic, { PUBLISH_INTERVAL_MS: '20', POISON_EVERY: '10' }, ['--declarative'])
    await lab.until('19 orders and 1 dead letter', () => new Set(lab!.received()).size === 19 && lab!.output.includes('Dead letter #1: orderId="poison-1"'))

    // The app announced nothing: the sidecar took both subscriptions from the YAML.
    expect(await (await fetch(`${await lab.url()}/dapr/subscribe`)).json()).toEqual([])
    const used = parseAllDocuments(readFileSync(join(lab.folder, 'resources', 'orders.yaml'), 'utf8')).map((d) => d.toJS())
    expect(used.map((s) => [s.kind, s.apiVersion, s.spec.topic, s.spec.routes.default, s.scopes])).toEqual([
      ['Subscription', 'dapr.io/v2alpha1', topic, '/orders', ['order-processor', 'shipping']],
      ['Subscription', 'dapr.io/v2alpha1', deadLetterTopic(topic), '/deadletters', ['order-processor', 'shipping']]
    ])
    const log = readFileSync(await lab.log('order-processor', 'daprd'), 'utf8')
    for (const name of ['orders', 'orders-deadletter']) expect(log).toContain(`Found Subscription: ${name}"`)

    await lab.stop()
    expectEachOnce(lab.received(), lab.output)
    expect(lab.lines.filter(isDeadLetterLine)).toHaveLength(1)
  })
})
