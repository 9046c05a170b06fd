// The publishing side of every scenario: sends orders `firstId..firstId+count-1` through a
// Sender (Dapr over HTTP or gRPC, single or bulk; or straight XADDs for the raw limit),
// unthrottled or at a fixed rate, with at most `concurrency` requests in flight.
import { CommunicationProtocolEnum, DaprClient, LogLevel } from '@dapr/dapr'
import type { Redis } from 'ioredis'
import { PUBSUB_NAME } from '../../shared/pubsub.ts'
import { makeBenchOrder, now, type BenchOrder } from './order.ts'

/** Sends a batch of orders; resolves with the orderIds that were NOT accepted. */
export type Sender = (orders: BenchOrder[]) => Promise<number[]>

export interface PublishPlan {
  firstId: number
  count: number
  /** Orders per second; 0 = as fast as the sender takes them. */
  rate: number
  /** Requests in flight at most (a bulk request counts once). */
  concurrency: number
  /** Orders per request: 1 = publish, more = publishBulk (or a pipeline for raw). */
  batch: number
  padding: string
}

export interface PublishProgress { sent: number, accepted: number, failed: number }

export interface PublishOutcome extends PublishProgress {
  /** Ids the broker accepted. */
  acceptedIds: number[]
  /** When the first order was sent (ms, the orders' clock). */
  startedAt: number
  /** When the last answer came back. */
  endedAt: number
  /** When each order was sent, by id - firstId (for the time its processing ended). */
  sentAt: Float64Array
  /** The first few errors, for the report. */
  errors: string[]
}

/** Sends the plan's orders; `progress` is updated live for the progress line. */
export async function publish (send: Sender, plan: PublishPlan, progress: PublishProgress = { sent: 0, accepted: 0, failed: 0 }, signal?: AbortSignal): Promise<PublishOutcome> {
  const { firstId, count, rate, batch, padding } = plan
  const concurrency = Math.max(1, plan.concurrency)
  const sentAt = new Float64Array(count)
  const acceptedIds: number[] = []
  const errors: string[] = []
  let next = 0
  let inFlight = 0
  let wake: (() => void) | undefined
  const startedAt = now()

  const launch = (size: number) => {
    const orders: BenchOrder[] = []
    for (let i = 0; i < size; i++) {
      const order = makeBenchOrder(firstId + next + i, padding)
      sentAt[next + i] = order.sentAt
      orders.push(order)
    }
    next += size
    progress.sent += size
    inFlight++
    send(orders).then((failedIds) => {
      const failed = new Set(failedIds)
      for (const o of orders) if (!failed.has(o.orderId)) acceptedIds.push(o.orderId)
      progress.accepted += orders.length - failed.size
      progress.failed += failed.size
    }, (err: unknown) => {
      progress.failed += orders.length
      if (errors.length < 5) errors.push(String((err as Error)?.message ?? err))
    }).finally(() => {
      inFlight--
      wake?.()
    })
  }

  while (next < count && !signal?.aborted) {
    if (inFlight >= concurrency) {
      await new Promise<void>((resolve) => { wake = resolve })
      continue
    }
    if (rate > 0) {
      // Open loop: order i is due at startedAt + i / rate, whatever the answers do, so a
      // slow system shows as latency (the orders' sentAt is when they really left).
      const wait = startedAt + (next * 1000) / rate - now()
      if (wait > 0.5) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait)
          wake = () => { clearTimeout(timer); resolve() }
        })
        continue
      }
    }
    launch(Math.min(batch, count - next))
  }
  while (inFlight > 0) await new Promise<void>((resolve) => { wake = resolve })
  return { ...progress, acceptedIds, startedAt, endedAt: now(), sentAt: sentAt.subarray(0, next), errors }
}

export type Protocol = 'http' | 'grpc'

/** A DaprClient for the bench's sidecar-only publisher app. */
export function daprClient (protocol: Protocol, ports: { httpPort: number, grpcPort: number }): DaprClient {
  return new DaprClient({
    daprHost: '127.0.0.1',
    daprPort: String(protocol === 'grpc' ? ports.grpcPort : ports.httpPort),
    communicationProtocol: protocol === 'grpc' ? CommunicationProtocolEnum.GRPC : CommunicationProtocolEnum.HTTP,
    daprApiToken: process.env.DAPR_API_TOKEN || undefined,
    logger: { level: LogLevel.Error }
  })
}

/**
 * Publishing through Dapr. A batch of one is `publish` (what the lab's checkout does);
 * larger ones are `publishBulk`, whose answer names the entries that failed. Over HTTP
 * the SDK reports failures as `{ error }` instead of throwing: both are checked.
 */
export function daprSender (client: DaprClient, topic: string): Sender {
  return async (orders) => {
    if (orders.length === 1) {
      const order = orders[0]!
      const { error } = await client.pubsub.publish(PUBSUB_NAME, topic, order)
      if (error) throw error instanceof Error ? error : new Error(String(error))
      return []
    }
    const { failedMessages } = await client.pubsub.publishBulk(PUBSUB_NAME, topic, orders)
    if (failedMessages.length > 0 && failedMessages.length === orders.length) {
      throw new Error(String(failedMessages[0]?.error ?? 'publishBulk failed'))
    }
    return failedMessages.map((f) => (f.message.event as BenchOrder).orderId)
  }
}

/**
 * The raw limit's publisher: XADD of the order as JSON, every batch in one pipeline (one
 * round trip), as a tuned native producer would.
 */
export function rawSender (redis: Redis, stream: string): Sender {
  return async (orders) => {
    const pipeline = redis.pipeline()
    for (const o of orders) pipeline.xadd(stream, '*', 'data', JSON.stringify(o))
    const results = (await pipeline.exec()) ?? []
    return results.flatMap(([err], i) => err ? [orders[i]!.orderId] : [])
  }
}
