// The checkout app: waits for its sidecar, publishes the orders, exits 0 only when every
// order was accepted by Dapr.
import { loadConfigOrExit } from '../../shared/config.ts'
import { createLogger } from '../../shared/logger.ts'
import { createClient } from '../../shared/dapr-client.ts'
import { publishOrders } from '../../shared/publishing.ts'
import { allAcceptedLine, outboxLine, partlyAcceptedLine, ttlLine } from '../../shared/log-lines.ts'
import { OUTBOX_STORE_NAME } from '../../shared/pubsub.ts'

const config = loadConfigOrExit('checkout')
const log = createLogger(config, 'checkout')
const client = createClient(config)

// Ctrl+C stops after the publish in flight, then reports what was sent.
const stop = new AbortController()
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort())

try {
  await client.start()
} catch {
  log.fatal(`No Dapr sidecar answers on http://${config.daprHost}:${config.daprHttpPort}. ` +
    'Start the apps with their sidecars: `npm start` (or `dapr run -f .`).')
  process.exit(1)
}

if (config.outbox) log.info(outboxLine(OUTBOX_STORE_NAME))
if (config.orderTtlSeconds > 0) log.info(ttlLine(config.orderTtlSeconds))

const { accepted, failed, poison } = await publishOrders(client, config, log, stop.signal)
await client.stop()

if (accepted === config.orderCount) {
  log.info(allAcceptedLine(accepted))
  if (poison > 0) log.warn(`Also sent ${poison} poison order(s) on purpose (POISON_EVERY=${config.poisonEvery}); look for them on the dead-letter topic.`)
} else {
  const why = stop.signal.aborted ? 'stopped by a signal' : `${failed} publish(es) failed (see the errors above)`
  log.error(partlyAcceptedLine(accepted, config.orderCount, why))
  process.exitCode = 1
}
