// The app's side of Dapr's app API token: with APP_API_TOKEN set, daprd sends it on every
// call to the app, and anybody else is refused. /healthz and /metrics stay open for probes
// and scrapers, which cannot send Dapr's token; they tell counts, never orders. A browser
// cannot send the header either: the live view takes the token as ?token=.
import { timingSafeEqual } from 'node:crypto'
import fp from 'fastify-plugin'

const OPEN = new Set(['/healthz', '/metrics'])
const BY_QUERY = new Set(['/', '/events'])

function sameToken (given: unknown, expected: string): boolean {
  if (typeof given !== 'string') return false
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** Refuses (401) every call without the token, on every route of the app (not encapsulated). */
export const apiToken = fp<{ token: string }>(async (app, { token }) => {
  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0]!
    if (OPEN.has(path)) return
    const given = request.headers['dapr-api-token'] ?? (BY_QUERY.has(path) ? (request.query as { token?: string }).token : undefined)
    if (sameToken(given, token)) return
    // The path only: a query string may hold a token, right or wrong.
    request.log.warn({ path }, `Refused ${request.method} ${path}: no valid dapr-api-token header ` +
      '(if this is the sidecar, start it with the same APP_API_TOKEN as the app)')
    return reply.code(401).send({ error: 'a valid dapr-api-token header is required' })
  })
}, { name: 'api-token' })
