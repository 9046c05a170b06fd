// Decides what `npm start` runs: which broker the orderpubsub component uses (so the
// scripts can start it) and which run file to hand to `dapr run -f`.
//
//   npm start                         -> dapr.yaml as it is; the broker is whichever
//                                        orderpubsub component components/ holds
//   npm start -- --broker kafka       -> dapr.yaml with brokers/kafka.yaml in place of
//                                        components/'s pub/sub (no file is edited)
//   npm start -- --app checkout       -> only the named app(s) of dapr.yaml
//   npm start -- --fanout             -> dapr.yaml plus the shipping app, a second
//                                        subscriber that receives every order too
//   npm start -- --declarative        -> subscriptions from subscriptions/*.yaml instead
//                                        of the apps' GET /dapr/subscribe
//   npm start -- --instances 3        -> 3 order-processors under one app id: competing
//                                        consumers, each order goes to one of them
//   npm start -- --tracing            -> the same run file (its sidecars always send
//                                        spans: config/tracing.yaml), with a Zipkin to
//                                        receive them started first (TRACING=1)
//
// Prints shell assignments (BROKER, RUN_FILE, TOPIC, TRACING) for start.sh to eval; errors
// go to stderr with what to do.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { config as loadDotenv } from 'dotenv'
import { parseAllDocuments, parse, stringify } from 'yaml'
import { loadConfig, ConfigError } from '../shared/config.ts'
import { DEFAULT_TOPIC, PUBSUB_NAME, deadLetterTopic } from '../shared/pubsub.ts'

const REPO = resolve(import.meta.dirname, '..')
const COMPONENTS = join(REPO, 'components')
const BROKERS = join(REPO, 'brokers')

// Component type -> the name the scripts provision it by.
const BROKER_OF_TYPE: Record<string, string> = {
  'pubsub.redis': 'redis',
  'pubsub.kafka': 'kafka',
  'pubsub.rabbitmq': 'rabbitmq',
  'pubsub.jetstream': 'jetstream',
  'pubsub.mqtt3': 'mqtt'
}

function fail (message: string): never {
  process.stderr.write(`[lab] ${message}\n`)
  process.exit(1)
}

/** The orderpubsub component type a YAML file declares, if any. */
function pubsubType (file: string): string | undefined {
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const c = doc.toJS() as { kind?: string, metadata?: { name?: string }, spec?: { type?: string } } | null
    if (c?.kind === 'Component' && c.metadata?.name === PUBSUB_NAME && c.spec?.type?.startsWith('pubsub.')) return c.spec.type
  }
  return undefined
}

function yamlFiles (dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).map((f) => join(dir, f)) : []
}

const { values } = parseArgs({
  options: { broker: { type: 'string' }, app: { type: 'string', multiple: true }, fanout: { type: 'boolean' }, declarative: { type: 'boolean' }, tracing: { type: 'boolean' }, instances: { type: 'string' } },
  allowPositionals: false
})

const inUse = yamlFiles(COMPONENTS).filter((f) => pubsubType(f))
let brokerFile: string
if (values.broker) {
  const name = values.broker
  const candidates = [join(COMPONENTS, `${name}.yaml`), join(BROKERS, `${name}.yaml`)].filter((f) => existsSync(f) && pubsubType(f))
  if (candidates.length === 0) {
    const known = [...yamlFiles(COMPONENTS), ...yamlFiles(BROKERS)].filter((f) => pubsubType(f)).map((f) => basename(f).replace(/\.ya?ml$/, ''))
    fail(`Unknown broker "${name}". Known brokers: ${[...new Set(known)].sort().join(', ')} (one component file each in components/ or brokers/).`)
  }
  brokerFile = candidates[0]!
} else {
  if (inUse.length === 0) fail(`components/ has no pub/sub component named ${PUBSUB_NAME}. Put one back, e.g. \`cp brokers/kafka.yaml components/\`, or run \`npm start -- --broker redis\`.`)
  if (inUse.length > 1) fail(`components/ has ${inUse.length} pub/sub components named ${PUBSUB_NAME} (${inUse.map((f) => basename(f)).join(', ')}); Dapr loads every file there, so keep one and move the others to brokers/.`)
  brokerFile = inUse[0]!
}
const type = pubsubType(brokerFile)!
const broker = BROKER_OF_TYPE[type] ?? 'external'

loadDotenv({ path: join(REPO, '.env'), quiet: true })
let topic: string
try {
  topic = loadConfig().topic
} catch (err) {
  if (err instanceof ConfigError) fail(err.message)
  throw err
}

let runFile = join(REPO, 'dapr.yaml')
// The fan-out's second subscriber, started before the checkout like the order-processor.
const SHIPPING = {
  appID: 'shipping',
  appDirPath: './shipping/',
  appPort: 6002,
  command: ['node', '--import', 'tsx', 'src/server.ts'],
  enableAppHealthCheck: true,
  appHealthCheckPath: '/healthz',
  appHealthProbeInterval: 1,
  appHealthProbeTimeout: 900,
  appHealthThreshold: 3
}

const instances = Number(values.instances ?? 1)
if (!Number.isInteger(instances) || instances < 1 || instances > 9) fail(`--instances takes a whole number from 1 to 9, not "${values.instances}".`)

if (values.broker || values.app || values.fanout || values.declarative || instances > 1) {
  // A derived run file: dapr.yaml's apps, with the chosen broker's component next to every
  // other component of components/ (state stores, resiliency...), in a folder of its own.
  const runFileSpec = parse(readFileSync(runFile, 'utf8')) as { common?: Record<string, unknown>, apps: Array<{ appID: string, appDirPath?: string, appPort?: number, env?: Record<string, string> }> }
  if (values.fanout) runFileSpec.apps.splice(runFileSpec.apps.findIndex((a) => a.appID === 'checkout'), 0, SHIPPING)
  if (instances > 1) {
    // Same app id, so one consumer group: the broker hands each order to one of them. Each
    // has its own sidecar and port (6001, 6011, 6021...) and says which instance it is.
    const at = runFileSpec.apps.findIndex((a) => a.appID === 'order-processor')
    const one = runFileSpec.apps[at]!
    runFileSpec.apps.splice(at, 1, ...Array.from({ length: instances }, (_, i) => ({
      ...one, appPort: one.appPort! + 10 * i, env: { ...one.env, INSTANCE: String(i + 1) }
    })))
  }
  const apps = values.app ?? runFileSpec.apps.map((a) => a.appID)
  const unknown = apps.filter((id) => !runFileSpec.apps.some((a) => a.appID === id))
  if (unknown.length > 0) fail(`Unknown app ${unknown.join(', ')}; dapr.yaml has ${runFileSpec.apps.map((a) => a.appID).join(', ')}.`)

  const flags = [...(values.fanout ? ['fanout'] : []), ...(values.declarative ? ['declarative'] : []), ...(instances > 1 ? [`x${instances}`] : [])]
  const dir = join(REPO, '.dapr', 'runs', [broker, ...flags, ...(values.app ?? [])].join('-'))
  const resources = join(dir, 'resources')
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(resources, { recursive: true })
  copyFileSync(brokerFile, join(resources, basename(brokerFile)))
  for (const f of yamlFiles(COMPONENTS)) if (!pubsubType(f)) copyFileSync(f, join(resources, basename(f)))

  // Paths in dapr.yaml are relative to it; the derived file lives elsewhere.
  const configFilePath = runFileSpec.common?.configFilePath
  runFileSpec.common = { ...runFileSpec.common, resourcesPath: resources }
  if (typeof configFilePath === 'string') runFileSpec.common.configFilePath = resolve(REPO, configFilePath)
  if (values.declarative) {
    // The Subscription resources, pointed at this run's topic, and apps that announce none.
    for (const file of yamlFiles(join(REPO, 'subscriptions'))) {
      const docs = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as { spec: { topic: string, deadLetterTopic?: string } })
      const retopic = (t: string) => t === DEFAULT_TOPIC ? topic : t === deadLetterTopic(DEFAULT_TOPIC) ? deadLetterTopic(topic) : t
      for (const { spec } of docs) {
        spec.topic = retopic(spec.topic)
        if (spec.deadLetterTopic) spec.deadLetterTopic = retopic(spec.deadLetterTopic)
      }
      writeFileSync(join(resources, basename(file)), docs.map((d) => stringify(d)).join('---\n'))
    }
    runFileSpec.common.env = { ...(runFileSpec.common.env as object), SUBSCRIPTIONS: 'declarative' }
  }
  runFileSpec.apps = runFileSpec.apps
    .filter((a) => apps.includes(a.appID))
    .map((a) => ({ ...a, appDirPath: resolve(REPO, a.appDirPath ?? '.') }))
  runFile = join(dir, 'dapr.yaml')
  writeFileSync(runFile, `# Generated by scripts/lab-run.ts from dapr.yaml; edit dapr.yaml instead.\n${stringify(runFileSpec)}`)
}

const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`
process.stdout.write(`BROKER=${quote(broker)}\nBROKER_FILE=${quote(brokerFile)}\nRUN_FILE=${quote(runFile)}\nTOPIC=${quote(topic)}\nTRACING=${values.tracing ? 1 : 0}\n`)
// Tokens and the broker password must reach the sidecars too, and daprd does not read
// .env: export the ones .env holds (the environment still wins, as for the apps).
for (const name of ['APP_API_TOKEN', 'DAPR_API_TOKEN', 'REDIS_PASSWORD']) {
  const value = process.env[name]
  if (value) process.stdout.write(`export ${name}=${quote(value)}\n`)
}
