// The order-processor's memory of what it has already done, kept in a Dapr state store so
// that it survives a restart. This is what turns at-least-once delivery into
// "exactly once in effect": a redelivered event finds its entry, and is acknowledged
// without being counted, logged or recorded again.
import { randomUUID } from 'node:crypto'
import { STATE_STORE_NAME } from '../pubsub.ts'
import type { Sidecar } from './sidecar.ts'

export type Recorded = 'recorded' | 'known' | Error

export interface Ledger {
  /**
   * Records each key that is new, in one call for the whole list when all are: 'recorded',
   * 'known' when it was recorded before (a redelivery, or a concurrent duplicate), or the
   * Error that kept it from being recorded. Throws when the store cannot be reached at
   * all; either way the caller asks for a retry of what was not recorded.
   */
  record (items: Array<{ key: string, value: object }>): Promise<Recorded[]>
}

// Entries expire: a redelivery comes within minutes, while a store that is never trimmed
// grows without end. A week covers any broker's redelivery by far.
export const TTL_SECONDS = 7 * 24 * 3600

export function daprLedger (sidecar: Sidecar, store = STATE_STORE_NAME): Ledger {
  const path = `/v1.0/state/${encodeURIComponent(store)}`
  const save = (items: Array<{ key: string, value: object }>) => sidecar.call('POST', path, items.map(({ key, value }) => ({
    key,
    value,
    // first-write: the save fails when the key exists, so the insert is also the check,
    // and two deliveries of one event racing each other cannot both be recorded.
    options: { concurrency: 'first-write' },
    // An ETag no entry has (Redis counts versions from 1): without one, Redis's state store
    // reports an existing key as a plain error, which the sidecar's retry policy for the
    // store (components/resiliency.yaml) retries for 2 s before answering 500, on every
    // redelivery; an ETag mismatch is never retried, and answered 409 at once.
    etag: '0',
    metadata: { ttlInSeconds: String(TTL_SECONDS) }
  })))
  async function record (items: Array<{ key: string, value: object }>): Promise<Recorded[]> {
      // Which write an entry came from: after a failed save of several, some may be in.
      const writeId = randomUUID()
      const marked = items.map(({ key, value }) => ({ key, value: { ...value, writeId } }))
      const { status, body } = await save(marked)
      if (status === 204 || status === 200) return items.map(() => 'recorded')
      // A conflict is 409 on some stores, a plain 500 on Redis's (ERR_STATE_SAVE, as for a
      // store that is down), and a list may be partly saved: only a read of each tells.
      // The rare path (a redelivery) costs more calls; the common one, a single call.
      return await Promise.all(marked.map(async (item): Promise<Recorded> => {
        try {
          const found = await sidecar.call('GET', `${path}/${encodeURIComponent(item.key)}`)
          if (found.status === 200) return (JSON.parse(found.body) as { writeId?: string }).writeId === writeId ? 'recorded' : 'known'
          if (marked.length === 1) return new Error(`the state store answered ${status}: ${body}`)
          return (await record([items[marked.indexOf(item)]!]))[0]!
        } catch (err) {
          return err as Error
        }
      }))
  }
  return { record }
}

/** An in-process ledger, for unit tests and for running the app without a sidecar. */
export function memoryLedger (): Ledger & { entries: Map<string, object> } {
  const entries = new Map<string, object>()
  return {
    entries,
    async record (items) {
      return items.map(({ key, value }) => {
        if (entries.has(key)) return 'known'
        entries.set(key, value)
        return 'recorded'
      })
    }
  }
}
