// The peer: an order-processor written the usual way, with the JS SDK's DaprServer as in
// Dapr's pub/sub quickstart (javascript/sdk/order-processor: `server.pubsub.subscribe(...)`,
// one console.log per order, Express underneath), doing the same work as ours for each
// order: validate it (orderProblem), skip it if the ledger has it, record it in the ledger
// the way the SDK offers (client.state.get, then a first-write client.state.save: two
// calls, where the order-processor makes one), log one JSON line with its latencyMs.
//
// One difference the SDK imposes: its callback gets the order and the HTTP headers, not
// the CloudEvent, so the ledger key is the orderId (unique in a bench run) instead of the
// event id.
import { fileURLToPath } from 'node:url'
import { DaprPubSubStatusEnum, DaprServer, LogLevel, StateConcurrencyEnum, StateConsistencyEnum, type DaprClient } from '@dapr/dapr'
import { orderProblem, type Order } from '../shared/order.ts'
import { PUBSUB_NAME, STATE_STORE_NAME } from '../shared/pubsub.ts'
import { TTL_SECONDS, type Ledger } from '../shared/subscriber/ledger.ts'
import { receivedLine } from '../shared/log-lines.ts'

/** The ledger as the SDK's client does it: is the key there? If not, save it (first-write). */
export function sdkLedger (client: DaprClient, store = STATE_STORE_NAME): Ledger {
  return {
    // One by one, as a quickstart's handler does for its one order.
    record: (items) => Promise.all(items.map(async ({ key, value }) => {
      // Dapr answers 204 with no body for a missing key; the SDK turns that into ''.
      const known = await client.state.get(store, key)
      if (known !== '' && known !== undefined && known !== null) return 'known'
      const { error } = await client.state.save(store, [{
        key,
        value,
        options: { concurrency: StateConcurrencyEnum.CONCURRENCY_FIRST_WRITE, consistency: StateConsistencyEnum.CONSISTENCY_UNSPECIFIED },
        metadata: { ttlInSeconds: String(TTL_SECONDS) }
      }])
      if (error) throw error instanceof Error ? error : new Error(String(error))
      return 'recorded' as const
    }))
  }
}

export interface PeerOptions {
  port: number
  topic: string
  /** The sidecar (or, for the handler scenario, a stand-in that only answers its health checks). */
  daprPort: number
  /** Defaults to the Dapr state store ledger, through the server's own client. */
  ledger?: (server: DaprServer) => Ledger
  /** Where the per-order line goes (console.log, as the quickstart does). */
  log?: (line: string) => void
}

export async function startPeer (options: PeerOptions): Promise<DaprServer> {
  const { topic, log = (line) => console.log(line) } = options
  const server = new DaprServer({
    serverHost: '127.0.0.1',
    serverPort: String(options.port),
    clientOptions: { daprHost: '127.0.0.1', daprPort: String(options.daprPort), daprApiToken: process.env.DAPR_API_TOKEN || undefined },
    logger: { level: LogLevel.Warn }
  })
  const ledger = options.ledger?.(server) ?? sdkLedger(server.client)
  await server.pubsub.subscribe(PUBSUB_NAME, topic, async (data: unknown) => {
    const problem = orderProblem(data)
    if (problem !== undefined) {
      log(JSON.stringify({ level: 40, time: Date.now(), msg: `Dropping an order: ${problem}` }))
      return DaprPubSubStatusEnum.DROP
    }
    const order = data as Order
    const key = `processed:${topic}:order-${order.orderId}`
    // A throw is answered RETRY by the SDK, like our handler's failures.
    const [outcome] = await ledger.record([{ key, value: { orderId: order.orderId, topic, processedAt: new Date().toISOString() } }])
    if (outcome instanceof Error) throw outcome
    if (outcome === 'known') {
      log(JSON.stringify({ level: 30, time: Date.now(), orderId: order.orderId, msg: `Already processed orderId=${order.orderId}` }))
      return DaprPubSubStatusEnum.SUCCESS
    }
    const latencyMs = order.sentAt === undefined ? undefined : performance.timeOrigin + performance.now() - order.sentAt
    log(JSON.stringify({ level: 30, time: Date.now(), orderId: order.orderId, latencyMs, msg: receivedLine(order) }))
    return DaprPubSubStatusEnum.SUCCESS
  }, 'orders')
  await server.start()
  return server
}

// Run by the bench's run file as the order-processor app (APP_PORT, DAPR_HTTP_PORT from the runner).
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const server = await startPeer({
    port: Number(process.env.APP_PORT),
    topic: process.env.ORDERS_TOPIC!,
    daprPort: Number(process.env.DAPR_HTTP_PORT)
  })
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => { void server.stop().then(() => process.exit(0)) })
}
