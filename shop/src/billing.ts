// billing: bills every order, and publishes the bill to the bills topic, which only the
// order service receives (shop/topology.ts). A bill is the order, billed.
import { billedLine } from '../../shared/log-lines.ts'
import { serve } from '../../shared/subscriber/serve.ts'
import { sidecarClient } from '../../shared/subscriber/sidecar.ts'
import { PUBSUB_NAME } from '../../shared/pubsub.ts'

await serve('billing', (config) => {
  const sidecar = sidecarClient(config)
  return async (order, log, event) => {
    const bill = { ...order, status: 'Billed' }
    // The bill's event id comes from the order's: billing an order again (a redelivery)
    // publishes the same bill, which the order service's ledger knows.
    const id = encodeURIComponent(`bill-${event?.id ?? order.orderId}`)
    const { status, body } = await sidecar.call('POST', `/v1.0/publish/${PUBSUB_NAME}/${encodeURIComponent(config.billsTopic)}?metadata.cloudevent.id=${id}`, bill)
    if (status >= 300) throw new Error(`publishing the bill failed: ${status} ${body}`)
    log.info({ orderId: order.orderId }, billedLine(order))
  }
})
