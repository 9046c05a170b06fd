// order: the shop's front. It publishes the orders, as the checkout does, and receives
// the bill billing publishes for each (shop/topology.ts).
import { createClient } from '../../shared/dapr-client.ts'
import { allAcceptedLine, billReceivedLine, partlyAcceptedLine } from '../../shared/log-lines.ts'
import { publishOrders } from '../../shared/publishing.ts'
import { serve } from '../../shared/subscriber/serve.ts'
import { BILLS_ROUTE } from '../topology.ts'

const { config, logger } = await serve('order', () => (bill, log) => {
  log.info({ orderId: bill.orderId }, billReceivedLine(bill))
}, { topic: (c) => c.billsTopic, route: BILLS_ROUTE })

const client = createClient(config)
await client.start()
const { accepted } = await publishOrders(client, config, logger)
if (accepted === config.orderCount) logger.info(allAcceptedLine(accepted))
else logger.error(partlyAcceptedLine(accepted, config.orderCount, 'see the errors above'))
