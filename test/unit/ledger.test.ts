// The Dapr ledger's calls, against a stand-in for the sidecar's state API that keeps entries
// as Redis's state store does (first-write with an ETag: a key that exists is a 409). The
// real store and sidecar are in the e2e kill tests (expectNoLedgerRetries).
import { describe, expect, it } from 'vitest'
import { daprLedger } from '../../shared/subscriber/ledger.ts'
import type { Sidecar, SidecarResponse } from '../../shared/subscriber/sidecar.ts'

interface Saved { key: string, value: { writeId: string }, etag?: string, options?: { concurrency?: string } }

function stateApi (): Sidecar & { calls: string[], saves: Saved[][] } {
  const entries = new Map<string, object>()
  const calls: string[] = []
  const saves: Saved[][] = []
  return {
    calls,
    saves,
    async call (method, path, body): Promise<SidecarResponse> {
      calls.push(`${method} ${path}`)
      if (method === 'GET') {
        const found = entries.get(decodeURIComponent(path.split('/').pop()!))
        return found ? { status: 200, body: JSON.stringify(found) } : { status: 204, body: '' }
      }
      const items = body as Saved[]
      saves.push(items)
      const taken = items.filter((i) => entries.has(i.key))
      for (const i of items) if (!entries.has(i.key)) entries.set(i.key, i.value)
      if (taken.length === 0) return { status: 204, body: '' }
      return { status: 409, body: '{"errorCode":"ERR_STATE_SAVE"}' }
    }
  }
}

describe('daprLedger', () => {
  it('records a new order in one first-write save that carries an ETag, so a conflict is not retried by the sidecar', async () => {
    const api = stateApi()
    const ledger = daprLedger(api)
    expect(await ledger.record([{ key: 'processed:orders:1', value: { orderId: 1 } }])).toEqual(['recorded'])
    expect(api.calls).toEqual(['POST /v1.0/state/statestore'])
    expect(api.saves[0]![0]).toMatchObject({ key: 'processed:orders:1', etag: '0', options: { concurrency: 'first-write' } })
  })

  it('answers "known" for an order recorded before, after one read, and records the new ones of a batch', async () => {
    const api = stateApi()
    const ledger = daprLedger(api)
    await ledger.record([{ key: 'k1', value: { orderId: 1 } }])
    api.calls.length = 0
    expect(await ledger.record([{ key: 'k1', value: { orderId: 1 } }])).toEqual(['known'])
    expect(api.calls).toEqual(['POST /v1.0/state/statestore', 'GET /v1.0/state/statestore/k1'])
    expect(await ledger.record([{ key: 'k1', value: { orderId: 1 } }, { key: 'k2', value: { orderId: 2 } }])).toEqual(['known', 'recorded'])
  })
})
