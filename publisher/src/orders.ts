import type { Order } from '../../shared/order.ts'

/** Order number `n` of the lab: {orderId: n, customerName: "Customer n", amount: n * 10, status: "Pending"}. */
export function makeOrder (n: number): Order {
  return { orderId: n, customerName: `Customer ${n}`, amount: n * 10.0, status: 'Pending' }
}
