// The order-processor process: the subscriber kit (shared/subscriber/) with its own work.
import { serve } from '../../shared/subscriber/serve.ts'
import { simulatedOutage } from './outage.ts'

await serve('order-processor', (config, log) => {
  if (config.simulatedOutageMs === 0) return undefined
  log.warn(`SIMULATED_OUTAGE_MS=${config.simulatedOutageMs}: orders will fail for that long after the first one`)
  return simulatedOutage(config.simulatedOutageMs)
})
