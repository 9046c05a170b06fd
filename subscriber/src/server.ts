// The order-processor process. The routes live in app.ts so tests can build the app
// without a port; serve.ts does the rest.
import { simulatedOutage } from './app.ts'
import { serve } from './serve.ts'

await serve('order-processor', (config, log) => {
  if (config.simulatedOutageMs === 0) return undefined
  log.warn(`SIMULATED_OUTAGE_MS=${config.simulatedOutageMs}: orders will fail for that long after the first one`)
  return simulatedOutage(config.simulatedOutageMs)
})
