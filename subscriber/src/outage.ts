// The order-processor's one piece of work of its own: none, unless SIMULATED_OUTAGE_MS asks
// it to fail for a while, as if a dependency were down (LAB.md's retry exercise).
import type { DeliveryOptions } from '../../shared/subscriber/delivery.ts'

/**
 * A processOrder that fails for `ms` after the first order: orders come back until the
 * outage ends or the retry policy gives up.
 */
export function simulatedOutage (ms: number, now = Date.now): DeliveryOptions['processOrder'] {
  let firstAt: number | undefined
  return () => {
    firstAt ??= now()
    if (now() - firstAt < ms) throw new Error('simulated outage: a dependency of the order-processor is down')
  }
}
