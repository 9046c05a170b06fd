// The shipping app: a second subscriber to the orders topic. Its app id is its own, so it
// has its own consumer group and receives every order too (fan-out), with the same
// delivery guarantees as the order-processor: same routes, ledger and dead letters.
import { shippedLine } from '../../shared/log-lines.ts'
import { serve } from '../../shared/subscriber/serve.ts'

await serve('shipping', () => (order, log) => {
  log.info({ orderId: order.orderId }, shippedLine(order))
})
