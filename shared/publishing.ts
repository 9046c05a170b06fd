// Publishing the lab's orders, for any app that publishes them: the checkout, and the
// shop's order service.
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import type { DaprClient } from '@dapr/dapr'
import type { Config } from './config.ts'
import { OUTBOX_STORE_NAME, outboxKey, PUBSUB_NAME } from './pubsub.ts'
import { makeOrder, makePoisonOrder } from './order.ts'
import { poisonPublishedLine, publishedLine } from './log-lines.ts'

export interface PublishResult {
  accepted: number
  failed: number
  /** Malformed orders sent on purpose (POISON_EVERY). */
  poison: number
}

/**
 * How an order leaves the checkout: published to the topic (with a time to live when
 * ORDER_TTL_SECONDS is set), or, with OUTBOX, saved in the outbox state store in a
 * transaction that also publishes it, so it is never published without being saved, nor
 * saved without being published. Resolves to the error, if any.
 */
export function sender (client: DaprClient, config: Config): (order: { orderId: unknown }) => Promise<unknown> {
  if (config.outbox) {
    return async (order) => {
      try {
        // The request's contentType (Dapr's, not in the SDK's type): without it the outbox
        // publishes the value as Go prints it, not as JSON. Not as metadata.contentType:
        // Redis's state store then stores it with JSON.SET, which needs the RedisJSON module.
        const request = { key: outboxKey(config.topic, order.orderId), value: order, contentType: 'application/json' }
        await client.state.transaction(OUTBOX_STORE_NAME, [{ operation: 'upsert', request }])
        return undefined
      } catch (err) {
        return err
      }
    }
  }
  // An object is sent as application/json; a JSON string would arrive double-encoded.
  return async (order) => (await client.pubsub.publish(PUBSUB_NAME, config.topic, order, publishOptions(config))).error
}

/** With a time to live, Dapr adds an expiration to the CloudEvent; the receiving sidecar drops it once past. */
const publishOptions = (config: Config) => config.orderTtlSeconds > 0 ? { metadata: { ttlInSeconds: String(config.orderTtlSeconds) } } : undefined

/**
 * Publishes orders 1..orderCount to the sidecar, one every publishIntervalMs, until done
 * or `signal` aborts. Every result is checked: over HTTP the SDK returns `{ error }`
 * instead of throwing, so ignoring it would report orders that Dapr never accepted.
 */
export async function publishOrders (client: DaprClient, config: Config, log: Logger, signal?: AbortSignal): Promise<PublishResult> {
  const result: PublishResult = { accepted: 0, failed: 0, poison: 0 }
  const send = sender(client, config)
  for (let n = 1; n <= config.orderCount && !signal?.aborted; n++) {
    const order = makeOrder(n)
    const error = await send(order)
    if (error) {
      result.failed++
      log.error({ err: error, orderId: order.orderId }, `Publish failed for orderId=${order.orderId}: ${String(error)}`)
    } else {
      result.accepted++
      log.info({ orderId: order.orderId, topic: config.topic }, publishedLine(order))
    }
    if (config.poisonEvery > 0 && n % config.poisonEvery === 0) {
      const poison = makePoisonOrder(n / config.poisonEvery)
      // Published directly, outbox or not: not an order anybody keeps.
      const { error: poisonError } = await client.pubsub.publish(PUBSUB_NAME, config.topic, poison, publishOptions(config))
      if (poisonError) log.error({ err: poisonError }, `Publish of a poison order failed: ${String(poisonError)}`)
      else {
        result.poison++
        log.warn(poisonPublishedLine(poison))
      }
    }
    if (n < config.orderCount) await sleep(config.publishIntervalMs, undefined, { signal }).catch(() => {})
  }
  return result
}
