// The names both apps agree on. The subscription the order-processor announces and the
// topic the checkout publishes to are built from here, so they cannot drift apart.

/** Component name in components/*.yaml (metadata.name). */
export const PUBSUB_NAME = 'orderpubsub'
/** Topic of the lab. Tests give each run its own topic through ORDERS_TOPIC. */
export const DEFAULT_TOPIC = 'orders'
/** Route on the order-processor that the sidecar posts each order to. */
export const ORDERS_ROUTE = '/orders'

export interface Subscription {
  pubsubname: string
  topic: string
  route: string
}

/** The programmatic subscription served on GET /dapr/subscribe. */
export function subscriptions (topic: string): Subscription[] {
  return [{ pubsubname: PUBSUB_NAME, topic, route: ORDERS_ROUTE }]
}
