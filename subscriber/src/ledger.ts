// The order-processor's memory of what it has already done, kept in a Dapr state store so
// that it survives a restart. This is what turns at-least-once delivery into
// "exactly once in effect": a redelivered event finds its entry, and is acknowledged
// without being counted, logged or recorded again.
import { STATE_STORE_NAME } from '../../shared/pubsub.ts'
import type { Sidecar } from './sidecar.ts'

export interface Ledger {
  /**
   * Records `key` if it is new, in one call: 'recorded', or 'known' when it was recorded
   * before (a redelivery, or a concurrent duplicate). Throws when the store cannot be
   * reached; the caller then asks for a retry.
   */
  record (key: string, value: object): Promise<'recorded' | 'known'>
}

// Entries expire: a redelivery comes within minutes, while a store that is never trimmed
// grows without end. A week covers any broker's redelivery by far.
export const TTL_SECONDS = 7 * 24 * 3600

export function daprLedger (sidecar: Sidecar, store = STATE_STORE_NAME): Ledger {
  const path = `/v1.0/state/${encodeURIComponent(store)}`
  return {
    async record (key, value) {
      // first-write: the save fails when the key exists, so the insert is also the check,
      // and two deliveries of one event racing each other cannot both be recorded.
      const { status, body } = await sidecar.call('POST', path, [{
        key,
        value,
        options: { concurrency: 'first-write' },
        metadata: { ttlInSeconds: String(TTL_SECONDS) }
      }])
      if (status === 204 || status === 200) return 'recorded'
      if (status === 409) return 'known'
      // Redis's store answers a first-write conflict with a plain 500 (ERR_STATE_SAVE, as
      // for a store that is down), so only a read tells the two apart: the rare path of a
      // redelivery costs a second call, the common one a single call.
      const known = await sidecar.call('GET', `${path}/${encodeURIComponent(key)}`)
      if (known.status === 200) return 'known'
      throw new Error(`the state store answered ${status}: ${body}`)
    }
  }
}

/** An in-process ledger, for unit tests and for running the app without a sidecar. */
export function memoryLedger (): Ledger & { entries: Map<string, object> } {
  const entries = new Map<string, object>()
  return {
    entries,
    async record (key, value) {
      if (entries.has(key)) return 'known'
      entries.set(key, value)
      return 'recorded'
    }
  }
}
