// A run's plan, worked out once from `npm start`'s arguments and the project's files:
// which broker and component file, which run file, which apps (and instances), which
// servers to provision, and which runner starts it all. Every command asks this module.
//
//   npm start                         dapr.yaml as it is; the broker is whichever
//                                     orderpubsub component components/ holds
//   npm start -- --broker kafka       dapr.yaml with brokers/kafka.yaml in place of
//                                     components/'s pub/sub (no file is edited)
//   npm start -- --app checkout       only the named app(s) of dapr.yaml
//   npm start -- --fanout             plus the shipping app, a second subscriber that
//                                     receives every order too
//   npm start -- --declarative        subscriptions from subscriptions/*.yaml instead of
//                                     the apps' GET /dapr/subscribe
//   npm start -- --streaming          the order-processor opens a streaming subscription
//                                     (gRPC) to its sidecar instead
//   npm start -- --bulk               the order-processor takes the orders in batches
//                                     (bulk subscribe)
//   npm start -- --prod               the apps compiled to JavaScript, on plain node (no
//                                     TypeScript loader), logging JSON lines
//   npm start -- --instances 3        3 order-processors under one app id: competing
//                                     consumers, each order goes to one of them
//   npm start -- --tracing            a Zipkin to receive the spans the sidecars always
//                                     send (config/tracing.yaml), started first
//   npm start -- --routing            a routing rule sends orders of 100 or more to the
//                                     order-processor's POST /orders/priority
//   npm start -- --ttl 30             the checkout's orders expire 30 s after publishing
//   npm start -- --outbox             the checkout saves and publishes each order in one
//                                     state transaction (the outbox store of outbox/)
//   npm start -- --shop               the shop: order, billing, notification, shipping
//                                     (shop/topology.ts), scoped to their topics
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { basename, isAbsolute, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { parse as parseDotenv } from 'dotenv'
import { parseAllDocuments, stringify } from 'yaml'
import { loadConfig, ConfigError } from '../shared/config.ts'
import { DEFAULT_TOPIC, PUBSUB_NAME, deadLetterTopic } from '../shared/pubsub.ts'
import { componentScopes, shopTopic, subscriptionResources } from '../shop/topology.ts'
import { BROKERS, brokerOfType, type Broker, type BrokerName } from './brokers.ts'
import { buildApps, compiledCommand } from './build.ts'
import { onPath } from './processes.ts'
import { freeOwnPort } from './ports.ts'
import { namedRunFolder, runAppDir, runName } from './run/place.ts'
import { readRunFile, writeRunFile, type AppSpec, type RunFile } from './run-file.ts'
import { LAB_STATE, LabError, REPO } from './settings.ts'
import { ORDER_PROCESSOR_PORT, appSpec, appsOf, rosterApp } from './roster.ts'

export const COMPONENTS = join(REPO, 'components')
export const BROKER_FILES = join(REPO, 'brokers')
export const SUBSCRIPTIONS = join(REPO, 'subscriptions')
/** Subscriptions that replace those of subscriptions/ of the same name with --routing. */
export const ROUTING_SUBSCRIPTIONS = join(SUBSCRIPTIONS, 'routing')
export const OUTBOX_COMPONENT = join(REPO, 'outbox', 'outbox.yaml')

export interface PlanOptions {
  broker?: string
  apps?: string[]
  fanout?: boolean
  declarative?: boolean
  streaming?: boolean
  prod?: boolean
  bulk?: boolean
  tracing?: boolean
  instances?: number
  routing?: boolean
  ttl?: number
  outbox?: boolean
  shop?: boolean
}

/** `dapr run -f` when the Dapr CLI is there, else the project's runner (same file, same sidecars). */
export type Runner = { kind: 'cli', dapr: string } | { kind: 'project' }

export interface Plan {
  options: PlanOptions
  /** A named run's name (LAB_RUN, lab/run/place.ts): its own folder and app ports. */
  name?: string
  /** The lab's name of the broker (redis, kafka, ...), or 'external' for a component type it does not provision. */
  broker: string
  /** The component file of orderpubsub for this run. */
  brokerFile: string
  topic: string
  /** Where billing publishes the bills (--shop). */
  billsTopic: string
  /** The run file handed to the runner: dapr.yaml itself, or one derived from it under .dapr/runs/. */
  runFile: string
  /** When derived: how to write it (see prepareRunFiles). */
  derived?: { dir: string, spec: RunFile }
  /** The apps of the run, in start order, with absolute folders. */
  apps: AppSpec[]
  /** The servers to use or start first, in this order. */
  services: string[]
  runner: Runner
  /** What the sidecars must get from .env too (daprd does not read it); the environment wins. */
  sidecarEnv: Record<string, string>
  /** What to tell the user before the run starts: a known limit of what was asked for. */
  notes: string[]
}

export const START_USAGE = `usage: npm start [-- --broker NAME] [--app ID ...] [--fanout | --shop] [--declarative | --streaming | --bulk] [--routing] [--ttl SECONDS | --outbox] [--prod] [--instances N] [--tracing]`

export function parsePlanArgs (argv: string[]): PlanOptions {
  let values
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        broker: { type: 'string' }, app: { type: 'string', multiple: true }, fanout: { type: 'boolean' }, declarative: { type: 'boolean' }, streaming: { type: 'boolean' },
        prod: { type: 'boolean' }, bulk: { type: 'boolean' }, tracing: { type: 'boolean' }, instances: { type: 'string' },
        routing: { type: 'boolean' }, ttl: { type: 'string' }, outbox: { type: 'boolean' }, shop: { type: 'boolean' }
      },
      allowPositionals: false
    }))
  } catch (err) {
    throw new LabError(`${(err as Error).message}\n${START_USAGE}`)
  }
  const instances = Number(values.instances ?? 1)
  if (!Number.isInteger(instances) || instances < 1 || instances > 9) throw new LabError(`--instances takes a whole number from 1 to 9, not "${values.instances}".`)
  const ways = (['declarative', 'streaming', 'bulk'] as const).filter((way) => values[way])
  if (ways.length > 1) throw new LabError(`--${ways.join(' and --')} are different ways to subscribe: choose one.`)
  if (values.routing && (values.streaming || values.bulk)) throw new LabError(`--routing chooses a route for each order; a ${values.streaming ? 'stream' : 'bulk subscription'} has one route for all. Use --routing alone or with --declarative.`)
  const ttl = values.ttl === undefined ? undefined : Number(values.ttl)
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 1 || ttl > 31_536_000)) throw new LabError(`--ttl takes a whole number of seconds from 1 to 31536000, not "${values.ttl}".`)
  if (ttl !== undefined && values.outbox) throw new LabError('--ttl sets the time to live of a direct publish; --outbox publishes from a state transaction. Choose one.')
  if (values.shop) {
    const others = (['fanout', 'declarative', 'streaming', 'bulk', 'routing', 'outbox', 'app'] as const).filter((o) => values[o])
    if (others.length > 0 || instances > 1) throw new LabError(`--shop runs the four services of shop/ as they are; it does not combine with ${[...others.map((o) => `--${o}`), ...(instances > 1 ? ['--instances'] : [])].join(', ')}.`)
  }
  return {
    broker: values.broker, apps: values.app, fanout: values.fanout, declarative: values.declarative, streaming: values.streaming, prod: values.prod, bulk: values.bulk, tracing: values.tracing, instances,
    routing: values.routing, ttl, outbox: values.outbox, shop: values.shop
  }
}

/** The orderpubsub component type a YAML file declares, if any. */
export function pubsubType (file: string): string | undefined {
  try {
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      const c = doc.toJS() as { kind?: string, metadata?: { name?: string }, spec?: { type?: string } } | null
      if (c?.kind === 'Component' && c.metadata?.name === PUBSUB_NAME && c.spec?.type?.startsWith('pubsub.')) return c.spec.type
    }
  } catch { /* not YAML: the doctor says where */ }
  return undefined
}

export function yamlFiles (dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => join(dir, f)) : []
}

function chooseBrokerFile (name: string | undefined): string {
  if (name) {
    const candidates = [join(COMPONENTS, `${name}.yaml`), join(BROKER_FILES, `${name}.yaml`)].filter((f) => existsSync(f) && pubsubType(f))
    if (candidates.length > 0) return candidates[0]!
    const known = [...yamlFiles(COMPONENTS), ...yamlFiles(BROKER_FILES)].filter((f) => pubsubType(f)).map((f) => basename(f).replace(/\.ya?ml$/, ''))
    throw new LabError(`Unknown broker "${name}". Known brokers: ${[...new Set(known)].sort().join(', ')} (one component file each in components/ or brokers/).`)
  }
  const inUse = yamlFiles(COMPONENTS).filter((f) => pubsubType(f))
  if (inUse.length === 0) throw new LabError(`components/ has no pub/sub component named ${PUBSUB_NAME}. Put one back, e.g. \`cp brokers/kafka.yaml components/\`, or run \`npm start -- --broker redis\`.`)
  if (inUse.length > 1) throw new LabError(`components/ has ${inUse.length} pub/sub components named ${PUBSUB_NAME} (${inUse.map((f) => basename(f)).join(', ')}); Dapr loads every file there, so keep one and move the others to brokers/.`)
  return inUse[0]!
}

/** The Dapr CLI: $DAPR_CLI, else `dapr` on PATH. */
export const findDaprCli = (env: NodeJS.ProcessEnv = process.env): string | undefined => env.DAPR_CLI || onPath('dapr', [], env.PATH)

/** The Dapr CLI this run uses, if any: $DAPR_CLI, else `dapr` on PATH; LAB_RUNNER=project|cli chooses outright. */
export function chooseRunner (env: NodeJS.ProcessEnv = process.env): Runner {
  if (env.LAB_RUNNER === 'project') return { kind: 'project' }
  const dapr = findDaprCli(env)
  if (env.LAB_RUNNER === 'cli' && !dapr) throw new LabError('LAB_RUNNER=cli, but no Dapr CLI was found: install it (https://docs.dapr.io/getting-started/install-dapr-cli/) or set DAPR_CLI to its path.')
  return dapr ? { kind: 'cli', dapr } : { kind: 'project' }
}

/** The plan for `npm start`'s arguments, or why there is none (in words that say what to do). */
export function tryPlan (argv: string[], env: NodeJS.ProcessEnv = process.env): Plan | { error: string } {
  try {
    return makePlan(parsePlanArgs(argv), env)
  } catch (err) {
    if (err instanceof LabError) return { error: err.message }
    return { error: `the run cannot be planned: ${(err as Error).message.split('\n')[0]}` }
  }
}

/** Reads .env the way the apps do (the environment wins), without changing process.env. */
export function labEnv (env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const file = join(REPO, '.env')
  return { ...(existsSync(file) ? parseDotenv(readFileSync(file)) : {}), ...env }
}

export function makePlan (options: PlanOptions, env: NodeJS.ProcessEnv = process.env): Plan {
  const brokerFile = chooseBrokerFile(options.broker)
  const broker = brokerOfType(pubsubType(brokerFile)!) ?? 'external'
  const withDotenv = labEnv(env)
  let topic: string, billsTopic: string
  try {
    ({ topic, billsTopic } = loadConfig(withDotenv))
  } catch (err) {
    if (err instanceof ConfigError) throw new LabError(err.message)
    throw err
  }
  // The shop's topics are its own: a new app id on a Redis stream reads it from the start,
  // so billing and notification would otherwise get every order of every earlier run.
  if (options.shop) [topic, billsTopic] = [shopTopic(topic), shopTopic(billsTopic)]
  const lab = readRunFile()
  const instances = options.instances ?? 1
  const services = [broker === 'external' ? [] : [broker], broker === 'redis' ? [] : ['redis'], options.tracing ? ['zipkin'] : []].flat()
  // Tokens and the broker password must reach the sidecars too, and daprd does not read .env.
  const sidecarEnv = Object.fromEntries(['APP_API_TOKEN', 'DAPR_API_TOKEN', 'REDIS_PASSWORD']
    .filter((name) => withDotenv[name]).map((name) => [name, withDotenv[name]!]))
  const base: Omit<Plan, 'runFile' | 'apps'> = { options, broker, brokerFile, topic, billsTopic, services, runner: chooseRunner(env), sidecarEnv, notes: notesFor(options, broker) }
  // A named run (LAB_RUN) always has a run file of its own, in its own folder: its ports are its own.
  const name = runName(env)
  const derive = name !== undefined || options.broker !== undefined || options.apps !== undefined || options.fanout || options.declarative || options.streaming || options.bulk || options.prod || instances > 1 ||
    options.routing || options.ttl !== undefined || options.outbox || options.shop
  if (!derive) return { ...base, runFile: join(REPO, 'dapr.yaml'), apps: lab.apps.map(absoluteApp) }
  if (name !== undefined) base.name = name

  // The apps of the run: dapr.yaml's, or the shop's (lab/roster.ts); --fanout adds shipping
  // before the checkout, so that it has subscribed before the first order.
  const apps = options.shop ? appsOf('shop').map(appSpec) : [...lab.apps]
  if (options.fanout) apps.splice(apps.findIndex((a) => a.appID === 'checkout'), 0, appSpec(rosterApp('shipping')))
  if (instances > 1) {
    // Same app id, so one consumer group: the broker hands each order to one of them. Each
    // has its own sidecar and port (6001, 6011, 6021...) and says which instance it is.
    const at = apps.findIndex((a) => a.appID === 'order-processor')
    const one = apps[at]!
    apps.splice(at, 1, ...Array.from({ length: instances }, (_, i) => ({
      ...one, appPort: (one.appPort ?? ORDER_PROCESSOR_PORT) + 10 * i, env: { ...one.env, INSTANCE: String(i + 1) }
    })))
  }
  const chosen = options.apps ?? apps.map((a) => a.appID)
  const unknown = chosen.filter((id) => !apps.some((a) => a.appID === id))
  if (unknown.length > 0) throw new LabError(`Unknown app ${unknown.join(', ')}; dapr.yaml has ${apps.map((a) => a.appID).join(', ')}.`)
  const flags = [...(['shop', 'fanout', 'declarative', 'streaming', 'bulk', 'routing', 'outbox', 'prod'] as const).filter((f) => options[f]), ...(options.ttl ? [`ttl${options.ttl}`] : []), ...(instances > 1 ? [`x${instances}`] : [])]
  const dir = name ? namedRunFolder(name) : join(LAB_STATE, 'runs', [broker, ...flags, ...(options.apps ?? [])].join('-'))
  const common = { ...lab.common, resourcesPath: join(dir, 'resources') }
  if (options.declarative) common.env = { ...common.env, SUBSCRIPTIONS: 'declarative' }
  if (options.streaming) common.env = { ...common.env, SUBSCRIPTIONS: 'streaming' }
  if (options.bulk) common.env = { ...common.env, BULK_SUBSCRIBE: 'true' }
  if (options.routing) common.env = { ...common.env, PRIORITY_ROUTING: 'true' }
  if (options.ttl) common.env = { ...common.env, ORDER_TTL_SECONDS: String(options.ttl) }
  if (options.outbox) common.env = { ...common.env, OUTBOX: 'true' }
  // The shop's Subscriptions are resources of the run, written from shop/topology.ts.
  if (options.shop) common.env = { ...common.env, SUBSCRIPTIONS: 'declarative', ORDERS_TOPIC: topic, BILLS_TOPIC: billsTopic }
  // The mode users deploy: compiled, and JSON lines for a log collector, not a person.
  if (options.prod) common.env = { ...common.env, LOG_FORMAT: 'json' }
  const compiled = (a: AppSpec): AppSpec => options.prod && a.command ? { ...a, command: compiledCommand(join(REPO, a.appDirPath ?? '.'), a.command) } : a
  // A named run's apps run in folders of its own, where both runners write their logs
  // (place.ts, runAppDir); their entries keep their place, named by absolute path.
  const inOwnFolder = (a: AppSpec): AppSpec => {
    if (name === undefined) return a
    const real = join(REPO, a.appDirPath ?? '.')
    const command = a.command?.map((part) => !isAbsolute(part) && !part.startsWith('-') && existsSync(join(real, part)) ? join(real, part) : part)
    return { ...a, appDirPath: runAppDir(a.appDirPath ?? '.', name), command }
  }
  const spec: RunFile = { ...lab, common, apps: apps.filter((a) => chosen.includes(a.appID)).map(compiled).map(inOwnFolder) }
  return { ...base, runFile: join(dir, 'dapr.yaml'), derived: { dir, spec }, apps: spec.apps.map(absoluteApp) }
}

function notesFor (options: PlanOptions, broker: string): string[] {
  const known: Broker | undefined = BROKERS[broker as BrokerName]
  // Dapr's own batching (daprd 1.18) stalls once the app health check has paused it.
  if (options.bulk && known && !known.nativeBulkSubscribe) {
    return [`note: ${known.label} has no bulk subscribe of its own, so Dapr batches the orders; if the order-processor goes down mid-run, its sidecar delivers nothing more (a Dapr bug) until the next \`npm start\`, which delivers the waiting orders, and the batch it was delivering can be lost (another). Kafka batches natively (README, "Bulk subscribe").`]
  }
  return []
}

const absoluteApp = (app: AppSpec): AppSpec => ({ ...app, appDirPath: resolve(REPO, app.appDirPath ?? '.') })

/**
 * A named run's apps listen on free ports of their own, not on dapr.yaml's, so that runs
 * can go on side by side; written into its run file, which the runner, lab:crash, lab:check
 * and the tests read. Other runs keep their ports (the doctor says when one is taken).
 */
export async function withOwnPorts (plan: Plan): Promise<Plan> {
  if (!plan.derived || plan.name === undefined) return plan
  const own = async (app: AppSpec): Promise<AppSpec> => app.appPort === undefined ? app : { ...app, appPort: await freeOwnPort() }
  const apps: AppSpec[] = []
  for (const app of plan.derived.spec.apps) apps.push(await own(app))
  return { ...plan, derived: { ...plan.derived, spec: { ...plan.derived.spec, apps } }, apps: apps.map(absoluteApp) }
}

/**
 * Writes a derived run's files: its run file, and its resources folder with the chosen
 * broker's component next to every other component of components/ (state store,
 * resiliency...), plus, for --declarative, the Subscriptions pointed at this run's topic
 * (with --routing, those of subscriptions/routing/ in place of their namesakes), for
 * --outbox, the outbox store publishing to it, for --shop, the shop's scopes and
 * Subscriptions, and for --prod, the compiled apps.
 */
interface Resource { metadata: { name: string }, spec: { topic: string, deadLetterTopic?: string } }
const readDocs = (file: string): Resource[] => parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as Resource)

export async function prepareRunFiles (plan: Plan): Promise<void> {
  if (!plan.derived) return
  if (plan.options.prod) await buildApps()
  const { dir, spec } = plan.derived
  const resources = join(dir, 'resources')
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(resources, { recursive: true })
  for (const app of plan.apps) mkdirSync(app.appDirPath!, { recursive: true })
  const brokerCopy = join(resources, basename(plan.brokerFile))
  copyFileSync(plan.brokerFile, brokerCopy)
  for (const f of yamlFiles(COMPONENTS)) if (!pubsubType(f)) copyFileSync(f, join(resources, basename(f)))
  const retopic = (t: string) => t === DEFAULT_TOPIC ? plan.topic : t === deadLetterTopic(DEFAULT_TOPIC) ? deadLetterTopic(plan.topic) : t
  if (plan.options.declarative) {
    const routing = plan.options.routing ? yamlFiles(ROUTING_SUBSCRIPTIONS).flatMap(readDocs) : []
    for (const file of yamlFiles(SUBSCRIPTIONS)) {
      const docs = readDocs(file).map((d) => routing.find((r) => r.metadata.name === d.metadata.name) ?? d)
      for (const { spec: s } of docs) {
        s.topic = retopic(s.topic)
        if (s.deadLetterTopic) s.deadLetterTopic = retopic(s.deadLetterTopic)
      }
      writeFileSync(join(resources, basename(file)), docs.map((d) => stringify(d)).join('---\n'))
    }
  }
  if (plan.options.outbox) {
    const [store] = readDocs(OUTBOX_COMPONENT) as unknown as Array<{ spec: { metadata: Array<{ name: string, value?: string }> } }>
    const topic = store!.spec.metadata.find((m) => m.name === 'outboxPublishTopic')!
    topic.value = retopic(topic.value!)
    writeFileSync(join(resources, basename(OUTBOX_COMPONENT)), stringify(store))
  }
  if (plan.options.shop) {
    const topics = { orders: plan.topic, bills: plan.billsTopic }
    // Appended to the broker's own settings: scopes are Dapr's, whatever the broker.
    const docs = readDocs(brokerCopy) as unknown as Array<{ kind?: string, spec: { metadata?: Array<{ name: string, value: string }> } }>
    const component = docs.find((d) => d.kind === 'Component')!
    component.spec.metadata = [...(component.spec.metadata ?? []), ...Object.entries(componentScopes(topics)).map(([name, value]) => ({ name, value }))]
    writeFileSync(brokerCopy, docs.map((d) => stringify(d)).join('---\n'))
    writeFileSync(join(resources, 'shop-subscriptions.yaml'), subscriptionResources(topics).map((d) => stringify(d)).join('---\n'))
  }
  writeRunFile(dir, spec, 'lab/plan.ts')
}
