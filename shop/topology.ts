// The shop of `npm start -- --shop`: who publishes and who receives each topic. The one
// place this is said; the run's pub/sub component scopes and its declarative
// Subscriptions are both written from it (lab/plan.ts), so they cannot disagree.
//
//   order ──orders──▶ billing, notification, shipping
//   order ◀──bills─── billing
import { DEAD_LETTER_ROUTE, deadLetterTopic, ORDERS_ROUTE, PUBSUB_NAME } from '../shared/pubsub.ts'

/** Route on the order service that receives the bills. */
export const BILLS_ROUTE = '/bills'

/** A topic of the shop, named apart from the lab's: `shop-orders`, `shop-bills`. */
export const shopTopic = (topic: string): string => `shop-${topic}`

export interface ShopTopics { orders: string, bills: string }
interface Flow { topic: string, publisher: string, receivers: string[], route: string }

export const SHOP_APPS = ['order', 'billing', 'notification', 'shipping'] as const

export function flows ({ orders, bills }: ShopTopics): Flow[] {
  return [
    { topic: orders, publisher: 'order', receivers: ['billing', 'notification', 'shipping'], route: ORDERS_ROUTE },
    { topic: bills, publisher: 'billing', receivers: ['order'], route: BILLS_ROUTE }
  ]
}

/**
 * The pub/sub component's scopes: each app may publish and receive only what its flows
 * say. A receiver's sidecar also publishes to, and receives, the dead-letter topic of
 * what it receives. Dapr lets an app that is not listed do anything, so every app is.
 */
export function componentScopes (topics: ShopTopics): { publishingScopes: string, subscriptionScopes: string } {
  const publishes = new Map<string, string[]>(SHOP_APPS.map((app) => [app, []]))
  const receives = new Map<string, string[]>(SHOP_APPS.map((app) => [app, []]))
  for (const { topic, publisher, receivers } of flows(topics)) {
    publishes.get(publisher)!.push(topic)
    for (const app of receivers) {
      publishes.get(app)!.push(deadLetterTopic(topic))
      receives.get(app)!.push(topic, deadLetterTopic(topic))
    }
  }
  const render = (scopes: Map<string, string[]>) => [...scopes].map(([app, list]) => `${app}=${list.join(',')}`).join(';')
  return { publishingScopes: render(publishes), subscriptionScopes: render(receives) }
}

/** The declarative Subscriptions (dapr.io/v2alpha1): each topic and its dead letters, scoped to its receivers. */
export function subscriptionResources (topics: ShopTopics): object[] {
  return flows(topics).flatMap(({ topic, receivers, route }) => [
    { topic, routes: { default: route }, deadLetterTopic: deadLetterTopic(topic) },
    { topic: deadLetterTopic(topic), routes: { default: DEAD_LETTER_ROUTE } }
  ].map((spec) => ({
    apiVersion: 'dapr.io/v2alpha1',
    kind: 'Subscription',
    metadata: { name: spec.topic },
    spec: { pubsubname: PUBSUB_NAME, ...spec },
    scopes: receivers
  })))
}
