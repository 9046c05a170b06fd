import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import type { DaprClient } from '@dapr/dapr'
import type { Config } from '../../shared/config.ts'
import { PUBSUB_NAME } from '../../shared/pubsub.ts'
import { makeOrder, makePoisonOrder } from './orders.ts'
import { publishedLine } from '../../shared/log-lines.ts'

export interface PublishResult {
  accepted: number
  failed: number
  /** Malformed orders sent on purpose (POISON_EVERY). */
  poison: number
}

/**
 * Publishes orders 1..orderCount to the sidecar, one every publishIntervalMs, until done
 * or `signal` aborts. Every result is checked: over HTTP the SDK returns `{ error }`
 * instead of throwing, so ignoring it would report orders that Dapr never accepted.
 */
export async function publishOrders (client: DaprClient, config: Config, log: Logger, signal?: AbortSignal): Promise<PublishResult> {
  const result: PublishResult = { accepted: 0, failed: 0, poison: 0 }
  for (let n = 1; n <= config.orderCount && !signal?.aborted; n++) {
    const order = makeOrder(n)
    // An object is sent as application/json; a JSON string would arrive double-encoded.
    const { error } = await client.pubsub.publish(PUBSUB_NAME, config.topic, order)
    if (error) {
      result.failed++
      log.error({ err: error, orderId: order.orderId }, `Publish failed for orderId=${order.orderId}: ${String(error)}`)
    } else {
      result.accepted++
      log.info({ orderId: order.orderId, topic: config.topic }, publishedLine(order))
    }
    if (config.poisonEvery > 0 && n % config.poisonEvery === 0) {
      const poison = makePoisonOrder(n / config.poisonEvery)
      const { error: poisonError } = await client.pubsub.publish(PUBSUB_NAME, config.topic, poison)
      if (poisonError) log.error({ err: poisonError }, `Publish of a poison order failed: ${String(poisonError)}`)
      else {
        result.poison++
        log.warn(`Published poison order: ${typeof poison === 'string' ? poison : JSON.stringify(poison)}`)
      }
    }
    if (n < config.orderCount) await sleep(config.publishIntervalMs, undefined, { signal }).catch(() => {})
  }
  return result
}
