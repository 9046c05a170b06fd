// The names both apps agree on. The subscriptions the order-processor announces and the
// topic the checkout publishes to are built from here, so they cannot drift apart.

/** Component name in components/*.yaml (metadata.name). */
export const PUBSUB_NAME = 'orderpubsub'
/** State store component (components/statestore.yaml) that remembers processed orders. */
export const STATE_STORE_NAME = 'statestore'
/**
 * State store of the transactional outbox (outbox/outbox.yaml, npm start -- --outbox): the
 * checkout saves each order there, and the same transaction publishes it.
 */
export const OUTBOX_STORE_NAME = 'outboxstore'
/** The key an order is saved under in the outbox store (one per topic and orderId). */
export const outboxKey = (topic: string, orderId: unknown): string => `${topic}:order-${String(orderId)}`
/** Topic of the lab. Tests give each run its own topic through ORDERS_TOPIC. */
export const DEFAULT_TOPIC = 'orders'
/** Route on the order-processor that the sidecar posts each order to. */
export const ORDERS_ROUTE = '/orders'
/** Route on the order-processor that takes orders in batches (bulk subscribe). */
export const ORDERS_BULK_ROUTE = '/orders/bulk'
/** Route of the orders a routing rule picks out (PRIORITY_ROUTING, --routing). */
export const PRIORITY_ROUTE = '/orders/priority'
/** Route that receives what was dead-lettered. */
export const DEAD_LETTER_ROUTE = '/deadletters'

/** Where Dapr sends an order the order-processor dropped or could not process in time. */
export function deadLetterTopic (topic: string): string {
  return `${topic}-deadletter`
}

/**
 * Routing rules (PRIORITY_ROUTING=true, npm start -- --routing): the sidecar evaluates
 * the CEL expression on each event and posts orders of 100 or more to the priority route,
 * the rest to the default one (JSON numbers reach CEL as doubles; CEL compares them with
 * ints too). An event without data.amount fails the rule: it is retried, then
 * dead-lettered, like an order that fails. subscriptions/routing/orders.yaml holds the
 * same rule for declarative subscriptions.
 */
export const PRIORITY_RULE = { match: 'event.data.amount >= 100.0', path: PRIORITY_ROUTE }
export const isPriority = (order: { amount: number }): boolean => order.amount >= 100

export interface Subscription {
  pubsubname: string
  topic: string
  route?: string
  routes?: { rules: Array<{ match: string, path: string }>, default: string }
  deadLetterTopic?: string
  bulkSubscribe?: { enabled: boolean, maxMessagesCount: number, maxAwaitDurationMs: number }
}

/**
 * Bulk subscribe (BULK_SUBSCRIBE=true): the sidecar hands the app up to 100 orders in one
 * POST, waiting at most 40 ms for a batch to fill. A batch never holds more than the
 * component's concurrency (Redis: its workers each wait for their batch to be answered).
 */
export const BULK = { maxMessagesCount: 100, maxAwaitDurationMs: 40 }

/**
 * The programmatic subscriptions served on GET /dapr/subscribe: the orders (one by one,
 * or in batches), with a dead-letter topic, and that dead-letter topic itself, so dropped orders are seen.
 * The dead-letter subscription has no dead-letter topic of its own: nothing loops.
 */
export function subscriptions (topic: string, { bulk = false, routing = false, route = ORDERS_ROUTE } = {}): Subscription[] {
  const orders: Subscription = bulk
    ? { pubsubname: PUBSUB_NAME, topic, route: ORDERS_BULK_ROUTE, deadLetterTopic: deadLetterTopic(topic), bulkSubscribe: { enabled: true, ...BULK } }
    : routing
      ? { pubsubname: PUBSUB_NAME, topic, routes: { rules: [PRIORITY_RULE], default: route }, deadLetterTopic: deadLetterTopic(topic) }
      : { pubsubname: PUBSUB_NAME, topic, route, deadLetterTopic: deadLetterTopic(topic) }
  return [
    orders,
    { pubsubname: PUBSUB_NAME, topic: deadLetterTopic(topic), route: DEAD_LETTER_ROUTE }
  ]
}
