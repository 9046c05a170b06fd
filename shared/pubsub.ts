// The names both apps agree on. The subscriptions the order-processor announces and the
// topic the checkout publishes to are built from here, so they cannot drift apart.

/** Component name in components/*.yaml (metadata.name). */
export const PUBSUB_NAME = 'orderpubsub'
/** State store component (components/statestore.yaml) that remembers processed orders. */
export const STATE_STORE_NAME = 'statestore'
/** Topic of the lab. Tests give each run its own topic through ORDERS_TOPIC. */
export const DEFAULT_TOPIC = 'orders'
/** Route on the order-processor that the sidecar posts each order to. */
export const ORDERS_ROUTE = '/orders'
/** Route that receives what was dead-lettered. */
export const DEAD_LETTER_ROUTE = '/deadletters'

/** Where Dapr sends an order the order-processor dropped or could not process in time. */
export function deadLetterTopic (topic: string): string {
  return `${topic}-deadletter`
}

export interface Subscription {
  pubsubname: string
  topic: string
  route: string
  deadLetterTopic?: string
}

/**
 * The programmatic subscriptions served on GET /dapr/subscribe: the orders, with a
 * dead-letter topic, and that dead-letter topic itself, so dropped orders are seen.
 * The dead-letter subscription has no dead-letter topic of its own: nothing loops.
 */
export function subscriptions (topic: string): Subscription[] {
  return [
    { pubsubname: PUBSUB_NAME, topic, route: ORDERS_ROUTE, deadLetterTopic: deadLetterTopic(topic) },
    { pubsubname: PUBSUB_NAME, topic: deadLetterTopic(topic), route: DEAD_LETTER_ROUTE }
  ]
}
