// The order-processor's memory of what it has already done, kept in a Dapr state store so
// that it survives a restart. This is what turns at-least-once delivery into
// "exactly once in effect": a redelivered event finds its entry and is acknowledged
// without being processed again.
import { StateConcurrencyEnum, StateConsistencyEnum, type DaprClient } from '@dapr/dapr'
import { STATE_STORE_NAME } from '../../shared/pubsub.ts'

export interface Ledger {
  /** Whether `key` was recorded. Throws when the store cannot be reached. */
  has (key: string): Promise<boolean>
  /**
   * Records `key` once. Throws when the store cannot be reached or when the key was
   * recorded meanwhile (a concurrent duplicate): either way the caller asks for a retry.
   */
  record (key: string, value: object): Promise<void>
}

// Entries expire: a redelivery comes within minutes, while a store that is never trimmed
// grows without end. A week covers any broker's redelivery by far.
const TTL_SECONDS = 7 * 24 * 3600

export function daprLedger (client: DaprClient, store = STATE_STORE_NAME): Ledger {
  return {
    async has (key) {
      // Dapr answers 204 with no body for a missing key; the SDK turns that into ''.
      const value = await client.state.get(store, key)
      return value !== '' && value !== undefined && value !== null
    },
    async record (key, value) {
      // first-write: the save fails if the key exists, so two deliveries of one event
      // racing each other cannot both be recorded as processed.
      const { error } = await client.state.save(store, [{
        key,
        value,
        options: { concurrency: StateConcurrencyEnum.CONCURRENCY_FIRST_WRITE, consistency: StateConsistencyEnum.CONSISTENCY_UNSPECIFIED },
        metadata: { ttlInSeconds: String(TTL_SECONDS) }
      }])
      if (error) throw error instanceof Error ? error : new Error(String(error))
    }
  }
}

/** An in-process ledger, for unit tests and for running the app without a sidecar. */
export function memoryLedger (): Ledger & { entries: Map<string, object> } {
  const entries = new Map<string, object>()
  return {
    entries,
    async has (key) { return entries.has(key) },
    async record (key, value) {
      if (entries.has(key)) throw new Error(`${key} is already recorded`)
      entries.set(key, value)
    }
  }
}
