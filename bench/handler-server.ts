// The handler scenario's servers: the order handler alone, with no sidecar and no broker
// in front, for autocannon to POST CloudEvents at.
//   fastify     the lab's app (buildApp from shared/subscriber/app.ts) with an in-memory ledger
//               (memoryLedger, the one the unit tests use) and the production JSON logger
//   daprserver  the peer (bench/peer-subscriber.ts: the JS SDK's DaprServer, as in the
//               quickstart) with the same in-memory ledger and a JSON line per order
// Both do the same work per order: parse, validate, ledger has + record, one log line.
// The DaprServer waits for "its sidecar" at start, so a stand-in answers that one call.
//
// Usage: node --import tsx bench/handler-server.ts fastify|daprserver PORT
// Prints "ready <path to POST to>" on stderr once it listens (the SDK names its route
// <pubsub>--<topic>--<route>); its log lines go to stdout (the bench: /dev/null).
import { createServer } from 'node:http'
import { buildApp } from '../shared/subscriber/app.ts'
import { memoryLedger } from '../shared/subscriber/ledger.ts'
import { createLogger } from '../shared/logger.ts'
import { startPeer } from './peer-subscriber.ts'
import { PUBSUB_NAME } from '../shared/pubsub.ts'

const [kind, portArg] = process.argv.slice(2)
const port = Number(portArg)
const topic = process.env.ORDERS_TOPIC ?? 'bench-handler'
let path = '/orders'

if (kind === 'fastify') {
  const app = buildApp({ topic, ledger: memoryLedger(), logger: createLogger({ logLevel: 'info', logFormat: 'json' }, 'order-processor') })
  await app.listen({ host: '127.0.0.1', port })
} else if (kind === 'daprserver') {
  // DaprServer.start() waits until GET /v1.0/metadata on its sidecar answers.
  const standIn = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'))
  await new Promise<void>((resolve) => standIn.listen(0, '127.0.0.1', resolve))
  const ledger = memoryLedger()
  const server = await startPeer({ port, topic, daprPort: (standIn.address() as { port: number }).port, ledger: () => ledger })
  const route = server.pubsub.getSubscriptions()[PUBSUB_NAME]?.[topic]?.routes.orders?.path
  if (route === undefined) throw new Error('the DaprServer registered no route for the topic')
  path = `/${route}`
} else {
  process.stderr.write('usage: handler-server.ts fastify|daprserver PORT\n')
  process.exit(2)
}
process.stderr.write(`ready ${path}\n`)
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => process.exit(0))
