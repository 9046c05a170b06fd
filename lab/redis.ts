// The lab's Redis, as the tools read it (the checks, the tests, the benchmark): one
// connection helper, and stream entries read by field name.
import { Redis } from 'ioredis'

export const REDIS_PORT = 6379

export function connectRedis (port = REDIS_PORT): Redis {
  return new Redis({
    host: '127.0.0.1',
    port,
    password: process.env.REDIS_PASSWORD || undefined,
    // A Redis that is not there should fail at once, not be retried for ever.
    maxRetriesPerRequest: 2,
    lazyConnect: false
  })
}

/** One stream entry as XRANGE, XREVRANGE and XREADGROUP return it: an id and a flat field/value list. */
export type StreamEntry = [id: string, fields: string[]]

/**
 * An entry's fields by name. Dapr's Redis pub/sub writes two, `data` (the CloudEvent) and
 * `metadata` (the publish metadata), in an order that varies from entry to entry (a Go
 * map), so a field is found by its name, never by its position.
 */
export function fieldsOf (flat: string[]): Record<string, string> {
  const fields: Record<string, string> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!
  return fields
}

/** The CloudEvent an entry carries (its `data` field), or undefined when it has none or it is not JSON. */
export function cloudEventOf ([, flat]: StreamEntry): Record<string, unknown> | undefined {
  const data = fieldsOf(flat).data
  if (data === undefined) return undefined
  try {
    const event = JSON.parse(data) as unknown
    return event !== null && typeof event === 'object' && !Array.isArray(event) ? event as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

/** `call` on a connection of its own, closed afterwards (a test may restart Redis meanwhile). */
export async function withRedis<T> (call: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = connectRedis()
  redis.on('error', () => { /* the call's own rejection says it */ })
  try {
    return await call(redis)
  } finally {
    redis.disconnect()
  }
}
