import type { Order } from '../../shared/order.ts'

/** Order number `n` of the lab: {orderId: n, customerName: "Customer n", amount: n * 10, status: "Pending"}. */
export function makeOrder (n: number): Order {
  return { orderId: n, customerName: `Customer ${n}`, amount: n * 10.0, status: 'Pending' }
}

/**
 * Poison order number `k` (POISON_EVERY): an order that can never be valid, in one of three
 * ways that users really send. Each carries orderId "poison-k" so it can be found in the
 * dead-letter log.
 */
export function makePoisonOrder (k: number): object | string {
  const order = { ...makeOrder(k), orderId: `poison-${k}` }
  switch (k % 3) {
    case 1: return { ...order, customerName: undefined }
    case 2: return { ...order, amount: -1 }
    default: return JSON.stringify(order) // arrives as text, not as an object
  }
}
