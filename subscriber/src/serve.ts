// What makes a subscriber app a process: configuration, logger, ledger, metrics, listening
// and signals. The order-processor and the shipping app differ only in their name and in
// the work they do for each order.
import closeWithGrace from 'close-with-grace'
import type { Logger } from 'pino'
import { loadConfigOrExit, type Config } from '../../shared/config.ts'
import { createLogger } from '../../shared/logger.ts'
import { createClient } from '../../shared/dapr-client.ts'
import { PUBSUB_NAME } from '../../shared/pubsub.ts'
import { buildApp, type AppOptions } from './app.ts'
import { daprLedger } from './ledger.ts'
import { createMetrics } from './metrics.ts'

export async function serve (name: string, work: (config: Config, log: Logger) => AppOptions['processOrder']): Promise<void> {
  const config = loadConfigOrExit(name)
  const logger = createLogger(config, config.instance ? `${name}#${config.instance}` : name)
  const client = createClient(config)
  const app = buildApp({
    topic: config.topic,
    logger,
    ledger: daprLedger(client),
    // The sidecar knows which broker the pub/sub component uses.
    broker: async () => (await client.metadata.get()).components.find((c) => c.name === PUBSUB_NAME)?.type,
    apiToken: config.appApiToken,
    metrics: createMetrics({ process: true }),
    declarative: config.subscriptions === 'declarative',
    processOrder: work(config, logger)
  })
  if (config.appApiToken) app.log.info('APP_API_TOKEN is set: calls without the matching dapr-api-token header are refused')

  // On SIGINT/SIGTERM stop accepting deliveries and let the ones in flight finish.
  closeWithGrace({ delay: 10_000 }, async ({ err }) => {
    if (err) app.log.error({ err }, 'shutting down after an error')
    await app.close()
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
}
