import { pino, type Logger } from 'pino'
import pretty from 'pino-pretty'
import type { Config } from './config.ts'

/**
 * Structured logs (pino). `json` is for machines: every line carries its fields (orderId,
 * eventId, reason...), written asynchronously (lines written while a write is under way
 * go out together in the next one), which costs little per order. `pretty` is for the
 * lab's console: one readable line per event, the fields hidden (the message says what
 * matters), written at once, as a person reads it at one order a second.
 */
export function createLogger (config: Pick<Config, 'logLevel' | 'logFormat'>, name: string): Logger {
  const options = { name, level: config.logLevel }
  if (config.logFormat === 'json') return pino(options, pino.destination({ sync: false }))
  return pino(options, pretty({
    sync: true,
    hideObject: true,
    ignore: 'pid,hostname',
    translateTime: 'SYS:HH:MM:ss.l',
    // The one field worth a glance: the trace to open in Zipkin.
    messageFormat: (log, key) => log.traceId ? `${String(log[key])} (trace ${String(log.traceId)})` : String(log[key])
  }))
}
