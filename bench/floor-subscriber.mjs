// The floor: the smallest subscriber that can sit on dapr-http's Dapr path. node:http, no
// framework, no logger, no ledger, and plain JavaScript run by `node` itself (no tsx
// loader thread): it answers {"status":"SUCCESS"} to every delivery, so dapr-http / floor
// is what the lab's order-processor costs on top of Dapr.
//
// It still says which orders arrived, or loss and duplicates could not be counted: each
// delivery's orderId and latency go into a buffer, written to stdout (the runner's log
// file, which bench/lib/deliveries.ts reads) in one write every FLUSH_MS and at SIGTERM.
// The delay costs the figures nothing: the bench times an order by its latencyMs,
// computed here when it arrives, not by when its line is read.
//
// Env: ORDERS_TOPIC, APP_PORT (from the runner), FLOOR_SUBSCRIPTIONS (the JSON of
// shared/pubsub.ts `subscriptions(topic)`, from bench/lib/run.ts: this file imports no
// TypeScript, so the shape comes from there and cannot drift).
import { createServer } from 'node:http'

const FLUSH_MS = 100
const topic = process.env.ORDERS_TOPIC
const port = Number(process.env.APP_PORT)
const subscriptions = process.env.FLOOR_SUBSCRIPTIONS ?? '[]'
const subscribed = JSON.parse(subscriptions)
const routes = new Set(subscribed.map((s) => s.route))
const ordersRoute = subscribed.find((s) => s.topic === topic)?.route
if (!topic || !ordersRoute) throw new Error('floor-subscriber: ORDERS_TOPIC and FLOOR_SUBSCRIPTIONS (with that topic) are needed')

// Dapr embeds the order as JSON in the CloudEvent's data, and no other field of the event
// has these names, so a pattern finds them without parsing the ~1 KB body. An order it
// cannot read is not recorded: it shows as lost, and the scenario fails, never silently.
const ORDER_ID = /"orderId":(\d+)/
const SENT_AT = /"sentAt":([\d.eE+-]+)/

let pending = ''
let stopping = false
const flush = () => {
  if (pending === '') return
  process.stdout.write(pending)
  pending = ''
}
setInterval(flush, FLUSH_MS).unref()

const json = (res, body) => res.writeHead(200, { 'content-type': 'application/json' }).end(body)
const SUCCESS = '{"status":"SUCCESS"}'

const server = createServer((req, res) => {
  if (req.method === 'GET') {
    if (req.url === '/dapr/subscribe') return json(res, subscriptions)
    if (req.url === '/healthz') return json(res, '{"status":"ok"}')
  } else if (req.method === 'POST' && routes.has(req.url)) {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk) => { body += chunk })
    req.on('end', () => {
      // After SIGTERM's flush nothing is answered: an order acknowledged now would be
      // missing from the log; unanswered, the sidecar delivers it again later.
      if (stopping) return
      const id = req.url === ordersRoute ? ORDER_ID.exec(body)?.[1] : undefined
      if (id !== undefined) {
        const sentAt = Number(SENT_AT.exec(body)?.[1])
        const latency = Number.isFinite(sentAt) ? `,"latencyMs":${performance.timeOrigin + performance.now() - sentAt}` : ''
        // The line bench/lib/deliveries.ts counts (JSON, orderId, "Subscriber received").
        pending += `{"orderId":${id}${latency},"msg":"Subscriber received: orderId=${id}"}\n`
      }
      json(res, SUCCESS)
    })
    return
  }
  res.writeHead(404).end()
})

server.listen(port, '127.0.0.1')

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    stopping = true
    server.close()
    // Exit once the last batch is in the pipe, so nothing acknowledged goes unrecorded.
    if (pending === '') process.exit(0)
    process.stdout.write(pending, () => process.exit(0))
  })
}
