// notification: tells the customer their order is in. It receives the orders, as billing
// and shipping do, under its own app id, so each of them gets every order once.
import { notifiedLine } from '../../shared/log-lines.ts'
import { serve } from '../../shared/subscriber/serve.ts'

await serve('notification', () => (order, log) => {
  log.info({ orderId: order.orderId }, notifiedLine(order))
})
