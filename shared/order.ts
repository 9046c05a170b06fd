import { Ajv } from 'ajv'

export interface Order {
  orderId: number
  customerName: string
  amount: number
  status: string
  /** When the publisher sent it (ms since the epoch, fractional): the load generator sets it to measure latency. */
  sentAt?: number
}

// Extra properties are allowed so a publisher can add fields (a timestamp, say) without
// breaking subscribers that do not know them yet.
export const orderSchema = {
  $id: 'order',
  type: 'object',
  required: ['orderId', 'customerName', 'amount', 'status'],
  properties: {
    orderId: { type: 'integer', minimum: 1 },
    customerName: { type: 'string', minLength: 1 },
    amount: { type: 'number', minimum: 0 },
    status: { type: 'string', minLength: 1 },
    sentAt: { type: 'number' }
  }
} as const

const validate = new Ajv({ allErrors: true }).compile<Order>(orderSchema)

/** Returns why `value` is not an order, or undefined when it is one. */
export function orderProblem (value: unknown): string | undefined {
  if (validate(value)) return undefined
  return new Ajv().errorsText(validate.errors, { dataVar: 'order' })
}

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
