// The live view: GET / is a page that shows orders as they are processed, and GET /events
// feeds it (server-sent events). Everything is served from here: it works offline.
import { readFileSync } from 'node:fs'
import type { EventEmitter } from 'node:events'
import type { FastifyPluginAsync } from 'fastify'
import type { CounterName, Metrics } from './metrics.ts'

/** One outcome of one delivery, as the page shows it. */
export interface FeedEvent {
  kind: Exclude<CounterName, 'received'>
  orderId?: string
  reason?: string
  at: string
}

const PAGE = readFileSync(new URL('./live.html', import.meta.url), 'utf8')
// A page opened late still shows the run so far.
const KEEP = 500
const tokenQuery = { type: 'object', properties: { token: { type: 'string' } } } as const

export interface LiveViewOptions {
  feed: EventEmitter
  metrics: Metrics
  topic: string
  /** The broker behind the pub/sub component, shown on the page (asks the sidecar). */
  broker?: () => Promise<string | undefined>
}

export const liveView: FastifyPluginAsync<LiveViewOptions> = async (app, options) => {
  const { feed, metrics, topic } = options
  const recent: FeedEvent[] = []
  feed.on('event', (event: FeedEvent) => {
    recent.push(event)
    if (recent.length > KEEP) recent.shift()
  })
  const streams = new Set<NodeJS.WritableStream>()
  let broker: string | undefined

  app.get('/', { schema: { querystring: tokenQuery } }, async (_request, reply) => reply.type('text/html; charset=utf-8').send(PAGE))

  app.get('/events', { schema: { querystring: tokenQuery } }, async (request, reply) => {
    broker ??= await options.broker?.().catch(() => undefined)
    reply.hijack()
    const out = reply.raw
    out.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
    const send = (name: string, data: unknown) => out.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`)
    send('hello', { topic, broker: broker ?? 'unknown', counts: await metrics.counts(), recent })
    const forward = (event: FeedEvent) => send('order', event)
    feed.on('event', forward)
    streams.add(out)
    // A comment now and then keeps proxies from closing a quiet stream.
    const keepAlive = setInterval(() => out.write(': keep-alive\n\n'), 15_000)
    request.raw.on('close', () => {
      clearInterval(keepAlive)
      feed.off('event', forward)
      streams.delete(out)
    })
  })

  // Open streams would keep the server from closing.
  app.addHook('preClose', async () => {
    for (const out of streams) out.end()
  })
}
