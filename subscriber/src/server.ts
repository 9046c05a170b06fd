// The order-processor process: configuration, logger, listening and signals.
// The routes live in app.ts so tests can build the app without a port.
import { config as loadDotenv } from 'dotenv'
import closeWithGrace from 'close-with-grace'
import { loadConfig, ConfigError, type Config } from '../../shared/config.ts'
import { createLogger } from '../../shared/logger.ts'
import { createClient } from '../../shared/dapr-client.ts'
import { buildApp, simulatedOutage } from './app.ts'
import { daprLedger } from './ledger.ts'
import { createMetrics } from './metrics.ts'

loadDotenv({ path: new URL('../../.env', import.meta.url), quiet: true })

let config: Config
try {
  config = loadConfig()
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  console.error(`order-processor: ${err.message}`)
  process.exit(2)
}

const app = buildApp({
  topic: config.topic,
  logger: createLogger(config, 'order-processor'),
  ledger: daprLedger(createClient(config)),
  apiToken: config.appApiToken,
  metrics: createMetrics({ process: true }),
  processOrder: config.simulatedOutageMs > 0 ? simulatedOutage(config.simulatedOutageMs) : undefined
})
if (config.appApiToken) app.log.info('APP_API_TOKEN is set: calls without the matching dapr-api-token header are refused')
if (config.simulatedOutageMs > 0) app.log.warn(`SIMULATED_OUTAGE_MS=${config.simulatedOutageMs}: orders will fail for that long after the first one`)

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
