import { config as loadDotenv } from 'dotenv'
import { envSchema } from 'env-schema'
import { DEFAULT_TOPIC } from './pubsub.ts'

// One validated configuration for both apps. Every variable is listed in .env.example.
const schema = {
  type: 'object',
  properties: {
    ORDERS_TOPIC: { type: 'string', minLength: 1, default: DEFAULT_TOPIC },
    ORDER_COUNT: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 19 },
    PUBLISH_INTERVAL_MS: { type: 'integer', minimum: 0, maximum: 3_600_000, default: 1000 },
    // Set by `dapr run` for each app; the defaults are Dapr's own.
    DAPR_HOST: { type: 'string', minLength: 1, default: '127.0.0.1' },
    DAPR_HTTP_PORT: { type: 'integer', minimum: 1, maximum: 65535, default: 3500 },
    DAPR_GRPC_PORT: { type: 'integer', minimum: 1, maximum: 65535, default: 50001 },
    APP_HOST: { type: 'string', minLength: 1, default: '127.0.0.1' },
    APP_PORT: { type: 'integer', minimum: 1, maximum: 65535, default: 6001 },
    LOG_LEVEL: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
    LOG_FORMAT: { type: 'string', enum: ['pretty', 'json'] },
    // Tokens are read from the environment of `npm start` / `dapr run -f`, which both the
    // sidecars and the apps inherit (dapr.yaml's per-app env reaches the app only).
    APP_API_TOKEN: { type: 'string' },
    DAPR_API_TOKEN: { type: 'string' },
    // Lab knobs: every Nth order also goes out malformed (0 = never), and the
    // order-processor fails for this long after the first order as if a dependency were down.
    POISON_EVERY: { type: 'integer', minimum: 0, maximum: 1_000_000, default: 0 },
    // Where the order-processor's subscriptions come from: its GET /dapr/subscribe, the
    // Subscription resources in subscriptions/ (then it announces none itself), or a
    // gRPC stream it opens to its sidecar (streaming; it announces none either).
    SUBSCRIPTIONS: { type: 'string', enum: ['programmatic', 'declarative', 'streaming'], default: 'programmatic' },
    // Programmatic subscriptions take the orders in batches (bulk subscribe, POST /orders/bulk).
    BULK_SUBSCRIBE: { type: 'boolean', default: false },
    // Programmatic subscriptions carry a routing rule: orders of 100 or more go to
    // POST /orders/priority, the rest to POST /orders.
    PRIORITY_ROUTING: { type: 'boolean', default: false },
    // The checkout's orders expire this long after they are published, unless delivered
    // by then (0 = never): Dapr drops an expired order, it is not dead-lettered.
    ORDER_TTL_SECONDS: { type: 'integer', minimum: 0, maximum: 31_536_000, default: 0 },
    // The checkout saves each order and publishes it in one state transaction (the
    // outbox state store of outbox/), instead of publishing it directly.
    OUTBOX: { type: 'boolean', default: false },
    // The shop (npm start -- --shop): where billing publishes a bill for each order.
    BILLS_TOPIC: { type: 'string', minLength: 1, default: 'bills' },
    // Which of several order-processors this is (npm start -- --instances N), for the logs.
    INSTANCE: { type: 'integer', minimum: 1 },
    SIMULATED_OUTAGE_MS: { type: 'integer', minimum: 0, maximum: 3_600_000, default: 0 }
  }
} as const

/** Names of every variable the apps read (all listed in .env.example). */
export const CONFIG_VARIABLES = Object.keys(schema.properties)

export interface Config {
  topic: string
  orderCount: number
  publishIntervalMs: number
  daprHost: string
  daprHttpPort: number
  daprGrpcPort: number
  appHost: string
  appPort: number
  logLevel: string
  logFormat: 'pretty' | 'json'
  appApiToken?: string
  daprApiToken?: string
  poisonEvery: number
  subscriptions: 'programmatic' | 'declarative' | 'streaming'
  bulkSubscribe: boolean
  priorityRouting: boolean
  orderTtlSeconds: number
  outbox: boolean
  billsTopic: string
  instance?: number
  simulatedOutageMs: number
}

export class ConfigError extends Error {}

export function loadConfig (env: NodeJS.ProcessEnv = process.env): Config {
  let raw: Record<string, any>
  try {
    raw = envSchema({ schema, data: env, env: false })
  } catch (err) {
    throw new ConfigError(`Invalid configuration: ${(err as Error).message.replaceAll('/', '')}. ` +
      'Fix the variable in your environment or .env (see .env.example).')
  }
  return {
    topic: raw.ORDERS_TOPIC,
    orderCount: raw.ORDER_COUNT,
    publishIntervalMs: raw.PUBLISH_INTERVAL_MS,
    daprHost: raw.DAPR_HOST,
    daprHttpPort: raw.DAPR_HTTP_PORT,
    daprGrpcPort: raw.DAPR_GRPC_PORT,
    appHost: raw.APP_HOST,
    appPort: raw.APP_PORT,
    logLevel: raw.LOG_LEVEL,
    logFormat: raw.LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json'),
    // An empty token is no token, as for daprd.
    appApiToken: raw.APP_API_TOKEN || undefined,
    daprApiToken: raw.DAPR_API_TOKEN || undefined,
    poisonEvery: raw.POISON_EVERY,
    subscriptions: raw.SUBSCRIPTIONS,
    bulkSubscribe: raw.BULK_SUBSCRIBE,
    priorityRouting: raw.PRIORITY_ROUTING,
    orderTtlSeconds: raw.ORDER_TTL_SECONDS,
    outbox: raw.OUTBOX,
    billsTopic: raw.BILLS_TOPIC,
    instance: raw.INSTANCE,
    simulatedOutageMs: raw.SIMULATED_OUTAGE_MS
  }
}

/**
 * For an app's entry point: the environment (and the project's .env, which never overrides
 * it), validated; on a bad value, the message and exit code 2 instead of a stack trace.
 */
export function loadConfigOrExit (app: string): Config {
  loadDotenv({ path: new URL('../.env', import.meta.url), quiet: true })
  try {
    return loadConfig()
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    console.error(`${app}: ${err.message}`)
    process.exit(2)
  }
}
