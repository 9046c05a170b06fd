// One measurement: publish a plan's orders, wait until the subscribers have processed
// them (or nothing has moved for a while: what is missing then is lost), and put
// together what the report needs: counts, rates, latency percentiles, CPU and memory.
import { poll } from '../../lab/poll.ts'
import type { DeliveryLog } from './deliveries.ts'
import { Meter, type NamedProcess, type ProcUsage } from './procs.ts'
import { publish, type PublishPlan, type PublishProgress, type Sender } from './publish.ts'
import { countDeliveries, ratePerSecond, summarizeLatency, type DeliveryCount, type LatencySummary } from './stats.ts'
import { now } from './order.ts'

export interface Measurement extends DeliveryCount {
  sent: number
  failed: number
  /** Redeliveries the ledger acknowledged without processing (at least once, working). */
  redelivered: number
  /** Accepted orders per second while publishing. */
  publishedPerS: number
  /** Processed orders per second, first send to last processing. */
  deliveredPerS: number
  latency: LatencySummary
  /** First send to last processing, s. */
  durationS: number
  processes: ProcUsage[]
  errors: string[]
}

export interface MeasureOptions {
  /** Give up waiting when nothing was processed for this long (what is missing is lost). */
  idleMs: number
  /** Processes to meter (the run's, the publisher's, Redis). */
  processes: NamedProcess[]
  /** Called ~4 times a second with the live counts. */
  onProgress?: (p: PublishProgress & { delivered: number, elapsedS: number }) => void
  signal?: AbortSignal
}

export async function measure (send: Sender, plan: PublishPlan, deliveries: DeliveryLog, options: MeasureOptions): Promise<Measurement> {
  const first = plan.firstId
  const last = plan.firstId + plan.count - 1
  const progress: PublishProgress = { sent: 0, accepted: 0, failed: 0 }
  const meter = new Meter(options.processes)
  const redeliveredBefore = deliveries.redelivered
  const t0 = now()
  let delivered = 0
  let lastChange = Date.now()
  const tick = () => {
    if (deliveries.poll() > 0) lastChange = Date.now()
    delivered = deliveries.countIn(first, last)
    options.onProgress?.({ ...progress, delivered, elapsedS: (now() - t0) / 1000 })
  }
  const timer = setInterval(tick, 250)
  let outcome
  try {
    outcome = await publish(send, plan, progress, options.signal)
    lastChange = Math.max(lastChange, Date.now())
    // Wait for the subscribers: every accepted order processed, or nothing moving any more.
    const accepted = outcome.acceptedIds.length
    await poll('the subscribers to process every accepted order', () => {
      tick()
      return options.signal?.aborted === true || delivered >= accepted || Date.now() - lastChange > options.idleMs
    }, Infinity, { every: 50 })
  } finally {
    clearInterval(timer)
  }
  deliveries.poll()
  const counts = countDeliveries(outcome.acceptedIds, deliveries.slice(first, last))
  const processes = meter.stop(counts.delivered)

  // When the last order was processed: its sentAt plus its latency, on the orders' clock.
  let lastDone = outcome.startedAt
  for (const [id, ms] of deliveries.latencyMs) {
    if (id < first || id > last) continue
    const sentAt = outcome.sentAt[id - first]
    if (sentAt !== undefined && sentAt + ms > lastDone) lastDone = sentAt + ms
  }
  return {
    ...counts,
    sent: outcome.sent,
    failed: outcome.failed,
    redelivered: deliveries.redelivered - redeliveredBefore,
    publishedPerS: ratePerSecond(outcome.accepted, outcome.endedAt - outcome.startedAt),
    deliveredPerS: ratePerSecond(counts.delivered, lastDone - outcome.startedAt),
    latency: summarizeLatency(deliveries.latenciesIn(first, last)),
    durationS: (lastDone - outcome.startedAt) / 1000,
    processes,
    errors: outcome.errors
  }
}

/** The live line: on a terminal rewritten in place (\r) 4 times a second, else a line every 2 s. */
export function progressPrinter (label: string, total: number): (p: PublishProgress & { delivered: number, elapsedS: number }) => void {
  const tty = process.stderr.isTTY
  let lastLine = 0
  return (p) => {
    const line = `${label}  sent ${p.sent}/${total}  accepted ${p.accepted}${p.failed ? `  failed ${p.failed}` : ''}  ` +
      `delivered ${p.delivered}  ${p.elapsedS > 0 ? Math.round(p.delivered / p.elapsedS) : 0}/s  ${p.elapsedS.toFixed(1)} s`
    if (tty) process.stderr.write(`\r\x1b[K${line}`)
    else if (Date.now() - lastLine >= 2000) { process.stderr.write(`${line}\n`); lastLine = Date.now() }
  }
}

/** Ends a live line so the next output starts on a line of its own. */
export function endProgress (): void {
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K')
}
