// What makes a subscriber app a process: configuration, logger, ledger, metrics, listening,
// the streaming subscription when asked for, and signals. The order-processor and the
// shipping app differ only in their name and in the work they do for each order.
import closeWithGrace from 'close-with-grace'
import type { Logger } from 'pino'
import { loadConfigOrExit, type Config } from '../config.ts'
import { createLogger } from '../logger.ts'
import { instanceName } from '../log-lines.ts'
import { PUBSUB_NAME } from '../pubsub.ts'
import { buildApp } from './app.ts'
import { createDeliveries, type DeliveryOptions } from './delivery.ts'
import { daprLedger } from './ledger.ts'
import { createMetrics } from './metrics.ts'
import { componentType, sidecarClient } from './sidecar.ts'

export interface ServeOptions {
  /** The topic it receives (the orders topic unless said otherwise). */
  topic?: (config: Config) => string
  /** The route its events come on (POST /orders unless said otherwise). */
  route?: string
}

/** Starts a subscriber app; resolves once it listens, with its configuration and logger. */
export async function serve (name: string, work: (config: Config, log: Logger) => DeliveryOptions['processOrder'], options: ServeOptions = {}): Promise<{ config: Config, logger: Logger }> {
  const config = loadConfigOrExit(name)
  const logger = createLogger(config, config.instance ? instanceName(name, config.instance) : name)
  const sidecar = sidecarClient(config)
  const topic = options.topic?.(config) ?? config.topic
  const deliveries = createDeliveries({
    topic,
    ledger: daprLedger(sidecar),
    metrics: createMetrics({ process: true }),
    processOrder: work(config, logger)
  })
  const app = buildApp({
    topic,
    route: options.route,
    logger,
    deliveries,
    // The sidecar knows which broker the pub/sub component uses.
    broker: () => componentType(sidecar, PUBSUB_NAME),
    apiToken: config.appApiToken,
    subscriptions: config.subscriptions,
    bulk: config.bulkSubscribe,
    routing: config.priorityRouting
  })
  if (config.appApiToken) app.log.info('APP_API_TOKEN is set: calls without the matching dapr-api-token header are refused')

  // Loaded only when asked for: the gRPC stack is not needed otherwise.
  const streaming = config.subscriptions === 'streaming'
    ? (await import('./streaming.ts')).subscribeStreaming({ sidecar: config, deliveries, log: logger })
    : undefined

  // On SIGINT/SIGTERM stop accepting deliveries and let the ones in flight finish.
  closeWithGrace({ delay: 10_000 }, async ({ err }) => {
    if (err) app.log.error({ err }, 'shutting down after an error')
    await Promise.all([streaming?.close(), app.close()])
    logger.flush()
  })

  try {
    await app.listen({ host: config.appHost, port: config.appPort })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    app.log.fatal(code === 'EADDRINUSE'
      ? `Port ${config.appPort} is already in use (an earlier run still going?). Stop it with \`npm run stop\` or set APP_PORT.`
      : `Cannot listen on ${config.appHost}:${config.appPort}: ${(err as Error).message}`)
    process.exit(1)
  }
  return { config, logger }
}
