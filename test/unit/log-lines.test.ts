import { describe, expect, it } from 'vitest'
import { redisEntriesFailedInSidecar } from '../../shared/log-lines.ts'

describe('lines of daprd the tests read', () => {
  it('the Redis stream entries a sidecar failed to deliver, from its log as daprd 1.18.3 writes it', () => {
    const lines = [
      'time="2026-12-08T00:34:41.226754456Z" level=warning msg="App entered un-healthy status: Network error" app_id=order-processor',
      'time="2026-12-08T00:34:41.226998789Z" level=error msg="Error processing Redis message 1796690078385-0: Post \\"http://127.0.0.1:31414/orders/bulk\\": dial tcp 127.0.0.1:31414: connect: connection refused" app_id=order-processor component="orderpubsub (pubsub.redis/v1)"',
      'time="2026-12-08T00:34:41.227114191Z" level=error msg="Error processing Redis message 1796690078348-0: Post \\"http://127.0.0.1:31414/orders/bulk\\": dial tcp" app_id=order-processor'
    ]
    expect(redisEntriesFailedInSidecar(lines)).toEqual(['1796690078385-0', '1796690078348-0'])
    expect(redisEntriesFailedInSidecar(lines.slice(0, 1))).toEqual([])
  })
})
