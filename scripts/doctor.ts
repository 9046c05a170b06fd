// `npm run doctor [-- --broker NAME ...]`: checks what the lab needs, in this order, one
// line each (ok / warn / problem, with the exact fix):
//
//   Node.js version · npm dependencies · Dapr CLI · Dapr runtime (daprd) · the broker the
//   run uses · the state store · the ports the run pins · lab processes still running ·
//   the component files
//
// Exit code 1 when a "problem" blocks the lab, else 0. A "warn" does not block: what
// `npm start` sets right by itself (installs the dependencies, builds daprd, starts the
// lab's local broker), or lab processes that are already running.
//
// `--before-start` (scripts/start.sh, after setup.sh): the same checks, but only what is
// wrong is printed (to stderr), and when nothing blocks, the run plan of scripts/lab-run.ts
// goes to stdout for start.sh to eval. The doctor asks lab-run.ts for that plan (which
// broker file, which run file) rather than repeating its rules, so the two cannot disagree.
import { execFile } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { homedir } from 'node:os'
import { basename, delimiter, dirname, join, relative, resolve } from 'node:path'
import { parseAllDocuments, parse } from 'yaml'
import { PUBSUB_NAME, STATE_STORE_NAME } from '../shared/pubsub.ts'

const REPO = resolve(import.meta.dirname, '..')
const COMPONENTS = join(REPO, 'components')

interface Result {
  ok: boolean
  line: string
  fix?: string
  /** The lab cannot run until this is fixed. */
  blocking: boolean
  /** `npm start` sets this right by itself, so it is not repeated before a start. */
  startFixes?: boolean
}
const ok = (line: string): Result => ({ ok: true, line, blocking: false })
const warn = (line: string, fix?: string, startFixes = false): Result => ({ ok: false, line, fix, blocking: false, startFixes })
const problem = (line: string, fix?: string): Result => ({ ok: false, line, fix, blocking: true })

function format (r: Result): string {
  const label = r.ok ? 'ok' : r.blocking ? 'problem' : 'warn'
  return `${label.padEnd(9)}${r.line}${r.fix ? ` — fix: ${r.fix}` : ''}`
}

const rel = (path: string) => relative(REPO, path) || '.'

/** A setting of one of the project's shell scripts (`NAME=value`), so it is written down once. */
function scriptSetting (script: string, name: string): string | undefined {
  try {
    return new RegExp(`^${name}=(\\S+)$`, 'm').exec(readFileSync(join(REPO, 'scripts', script), 'utf8'))?.[1]
  } catch {
    return undefined
  }
}

/** An executable on PATH, found without starting a shell. */
function onPath (name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const file = join(dir || '.', name)
    try { if (statSync(file).isFile()) return file } catch { /* not here */ }
  }
  return undefined
}

function run (file: string, args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return new Promise((done) => {
    execFile(file, args, { cwd: REPO, timeout: 10_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr: stderr || (err && !stdout ? err.message : '') })
    })
  })
}

// ---------------------------------------------------------------------------------------
// Node.js and the npm dependencies

function checkNode (): Result {
  const wanted = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { engines?: { node?: string } }).engines?.node ?? '>=20.19'
  const min = (/>=\s*([\d.]+)/.exec(wanted)?.[1] ?? '0').split('.').map(Number)
  const have = process.versions.node.split('.').map(Number)
  const differs = min.findIndex((n, i) => (have[i] ?? 0) !== n) // compare at the first part that differs
  if (differs === -1 || (have[differs] ?? 0) > min[differs]!) return ok(`Node.js ${process.versions.node} (${wanted})`)
  return problem(`Node.js ${process.versions.node} is too old: the lab needs ${wanted}`, `install Node.js ${min.join('.')} or newer (https://nodejs.org, or \`nvm install 22\`)`)
}

// The rule of ensure_node_modules in scripts/common.sh: installed, and not older than the lock file.
function checkDependencies (): Result {
  const fix = '`npm ci` (`npm start` runs it for you)'
  const marker = join(REPO, 'node_modules', '.package-lock.json')
  if (!existsSync(marker)) return warn('npm dependencies are not installed', fix, true)
  if (statSync(join(REPO, 'package-lock.json')).mtimeMs > statSync(marker).mtimeMs) {
    return warn('npm dependencies are older than package-lock.json', fix, true)
  }
  return ok('npm dependencies installed (node_modules matches package-lock.json)')
}

// ---------------------------------------------------------------------------------------
// Dapr: the CLI (optional) and the runtime (daprd)

async function checkCli (): Promise<Result> {
  const dapr = onPath('dapr')
  if (!dapr) return ok('Dapr CLI not installed, and not needed: `npm start` runs dapr.yaml with scripts/multi-app-run.ts')
  const version = /CLI version:\s*(\S+)/.exec((await run(dapr, ['--version'])).stdout)?.[1] ?? '(version unknown)'
  return ok(`Dapr CLI ${version} at ${dapr}: \`npm start\` runs \`dapr run -f\``)
}

// Where scripts/provision-dapr.sh looks, in its order, then where it builds daprd.
async function checkRuntime (): Promise<Result> {
  const home = homedir()
  const version = scriptSetting('provision-dapr.sh', 'DAPR_VERSION') ?? '1.18.3'
  const cache = process.env.DAPR_LAB_CACHE || join(process.env.XDG_CACHE_HOME || join(home, '.cache'), 'dapr-pubsub-lab')
  const built = join(cache, `dapr-${version}`)
  const roots = [process.env.DAPR_RUNTIME_PATH, home, built].filter((r): r is string => !!r)
  const root = roots.find((r) => existsSync(join(r, '.dapr', 'bin', 'daprd')))
  if (!root) {
    const looked = [...new Set(roots)].map((r) => join(r, '.dapr', 'bin')).join(', ')
    if (onPath('go')) {
      return warn(`Dapr runtime not found (looked in ${looked})`, `none needed: \`npm start\` builds it once with Go (about 3 minutes); or install the Dapr CLI and run \`dapr init --slim\``, true)
    }
    return problem(`Dapr runtime not found (looked in ${looked}), and Go is not installed to build one`,
      'install the Dapr CLI (https://docs.dapr.io/getting-started/install-dapr-cli/) and run `dapr init --slim`, or install Go 1.26+ so that `npm start` builds it')
  }
  const daprd = join(root, '.dapr', 'bin', 'daprd')
  const origin = resolve(root) === resolve(built)
    ? 'built by this project: scripts/provision-dapr.sh'
    : resolve(root) === resolve(home) ? 'from `dapr init`' : 'from DAPR_RUNTIME_PATH'
  const { code, stdout, stderr } = await run(daprd, ['--version'])
  if (code !== 0) {
    return problem(`daprd at ${daprd} (${origin}) does not run: ${(stderr || stdout).trim().split('\n')[0]}`,
      origin.startsWith('built') ? `remove ${built} and run \`npm start\` to build it again` : 'run `dapr init --slim` again')
  }
  return ok(`Dapr runtime: daprd ${stdout.trim()} at ${daprd} (${origin})`)
}

// ---------------------------------------------------------------------------------------
// The run plan: what scripts/lab-run.ts decides for these arguments

type Plan = { vars: Record<string, string>, stdout: string } | { error: string }

async function planRun (args: string[]): Promise<Plan> {
  const { code, stdout, stderr } = await run(process.execPath, ['--import', 'tsx', join(REPO, 'scripts', 'lab-run.ts'), ...args])
  if (code !== 0) {
    // Its own messages start with [lab]; anything else is a crash: keep the error's first line.
    const lines = stderr.split('\n')
    const said = lines.filter((l) => l.startsWith('[lab] ')).map((l) => l.slice(6))
    if (said.length > 0) return { error: said.join(' ') }
    const crash = (lines.find((l) => /Error\b/.test(l)) ?? lines[0] ?? '').replace(/^\w*Error( \[\w+\])?: /, '').trim()
    return { error: `scripts/lab-run.ts failed: ${crash || `exit code ${code}`}` }
  }
  // Lines like NAME='value' (single-quoted for the shell).
  const vars = Object.fromEntries([...stdout.matchAll(/^(?:export )?(\w+)=(?:'((?:[^']|'\\'')*)'|(\S*))$/gm)]
    .map((m) => [m[1]!, m[2] !== undefined ? m[2].replaceAll("'\\''", "'") : m[3]!]))
  return { vars, stdout }
}

// ---------------------------------------------------------------------------------------
// Component files

interface Resource {
  apiVersion?: string
  kind?: string
  metadata?: { name?: string }
  spec?: { type?: string, pubsubname?: string, metadata?: Array<{ name?: string, value?: unknown }> }
}
interface YamlFile { path: string, resources: Resource[], error?: string, errorLine?: number }

function readYaml (path: string): YamlFile {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    return { path, resources: [], error: `${rel(path)} cannot be read: ${(err as Error).message}` }
  }
  const docs = parseAllDocuments(text)
  for (const doc of docs) {
    const err = doc.errors[0]
    if (err) {
      const at = err.linePos?.[0]
      const message = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')
      return { path, resources: [], error: `${rel(path)}${at ? `:${at.line}:${at.col}` : ''}: ${message}`, errorLine: at?.line }
    }
  }
  // Empty documents (a trailing ---) are no resources.
  return { path, resources: docs.map((d) => d.toJS() as Resource | null).filter((r): r is Resource => r !== null && typeof r === 'object') }
}

const yamlIn = (dir: string) => existsSync(dir) ? readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => join(dir, f)) : []
const isComponent = (r: Resource, prefix: string) => r.kind === 'Component' && (r.spec?.type ?? '').startsWith(prefix)
const isOrderPubsub = (r: Resource) => isComponent(r, 'pubsub.') && r.metadata?.name === PUBSUB_NAME

/**
 * The component files the run loads: components/, or, with `--broker NAME`, the chosen
 * broker's file in place of components/'s orderpubsub (as scripts/lab-run.ts does).
 */
function runComponents (brokerFile: string | undefined): YamlFile[] {
  const files = yamlIn(COMPONENTS).map(readYaml)
  if (!brokerFile || dirname(resolve(brokerFile)) === COMPONENTS) return files
  return [readYaml(brokerFile), ...files.filter((f) => !f.resources.some(isOrderPubsub))]
}

/** One kind of component the apps name (the pub/sub, the state store): there, once, by that name. */
function namedOnce (files: YamlFile[], prefix: string, name: string, what: string, whyName: string, restore: string): Result[] {
  const found = files.flatMap((f) => f.resources.filter((r) => isComponent(r, prefix)).map((r) => ({ file: rel(f.path), name: r.metadata?.name })))
  const right = found.filter((c) => c.name === name)
  const wrong = found.filter((c) => c.name !== name)
  const results = wrong.map((c) => {
    const line = `${c.file}: the ${what} component is named '${c.name}', but ${whyName} '${name}'`
    const fix = `rename metadata.name in ${c.file} to ${name}`
    // With a rightly named one as well, this one is merely unused.
    return right.length > 0 ? warn(`${line} (so it is not used)`, fix) : problem(line, fix)
  })
  if (right.length > 1) {
    results.push(problem(`${right.length} ${what} components are named '${name}' (${right.map((c) => c.file).join(', ')}); Dapr loads every file in components/`, 'keep one and move the others to brokers/'))
  }
  if (found.length === 0) results.push(problem(`no ${what} component named '${name}' in components/`, restore))
  return results
}

function checkComponents (files: YamlFile[], declarative: boolean): Result[] {
  const results: Result[] = []
  for (const f of files) {
    if (f.error) {
      results.push(problem(f.error, f.errorLine ? `correct line ${f.errorLine} of ${rel(f.path)} (YAML: spaces, not tabs; \`key: value\`)` : undefined))
      continue
    }
    for (const [i, r] of f.resources.entries()) {
      const missing = [!r.apiVersion && 'apiVersion', !r.kind && 'kind', !r.metadata?.name && 'metadata.name'].filter(Boolean)
      if (missing.length > 0) {
        results.push(problem(`${rel(f.path)}: resource ${i + 1} has no ${missing.join(', ')}`, 'every Dapr resource needs apiVersion, kind and metadata.name'))
      }
    }
  }
  const parsed = files.filter((f) => !f.error)
  results.push(...namedOnce(parsed, 'pubsub.', PUBSUB_NAME, 'pub/sub', 'the apps publish and subscribe to',
    'put one back, e.g. `cp brokers/kafka.yaml components/`, or run `npm start -- --broker redis`'))
  results.push(...namedOnce(parsed, 'state.', STATE_STORE_NAME, 'state store', 'the order-processor keeps its ledger in',
    'put components/statestore.yaml back (`git restore components/statestore.yaml`)'))
  // `--declarative`: the Subscription resources name the pub/sub too.
  if (declarative) {
    for (const f of yamlIn(join(REPO, 'subscriptions')).map(readYaml)) {
      if (f.error) { results.push(problem(f.error, f.errorLine ? `correct line ${f.errorLine} of ${rel(f.path)}` : undefined)); continue }
      for (const r of f.resources.filter((r) => r.kind === 'Subscription' && r.spec?.pubsubname !== PUBSUB_NAME)) {
        results.push(problem(`${rel(f.path)}: subscription '${r.metadata?.name}' uses pub/sub '${r.spec?.pubsubname}', but the apps use '${PUBSUB_NAME}'`, `set spec.pubsubname in ${rel(f.path)} to ${PUBSUB_NAME}`))
      }
    }
  }
  if (results.length > 0) return results
  const describe = (prefix: string, name: string) => {
    const f = files.find((f) => f.resources.some((r) => isComponent(r, prefix) && r.metadata?.name === name))!
    return `'${name}' is ${f.resources.find((r) => isComponent(r, prefix) && r.metadata?.name === name)!.spec!.type} (${rel(f.path)})`
  }
  return [ok(`component files: ${files.length} parse; pub/sub ${describe('pubsub.', PUBSUB_NAME)}, state store ${describe('state.', STATE_STORE_NAME)}`)]
}

// ---------------------------------------------------------------------------------------
// The broker and the state store: does something answer where the component points?

// The brokers `npm start` provisions (scripts/brokers.sh), by name: the script that starts
// each and the variable there that holds the port it listens on (127.0.0.1 only).
const LAB_BROKERS: Record<string, { label: string, script: string, portVariable: string }> = {
  redis: { label: 'Redis', script: 'redis.sh', portVariable: 'REDIS_PORT' },
  kafka: { label: 'Kafka', script: 'kafka.sh', portVariable: 'KAFKA_PORT' },
  rabbitmq: { label: 'RabbitMQ', script: 'rabbitmq.sh', portVariable: 'RABBITMQ_PORT' },
  jetstream: { label: 'NATS JetStream', script: 'nats.sh', portVariable: 'NATS_PORT' },
  mqtt: { label: 'MQTT (Mosquitto)', script: 'mosquitto.sh', portVariable: 'MOSQUITTO_PORT' }
}

// Which metadata field holds the address, for each component type, and its default port.
const ADDRESS: Record<string, { keys: string[], port: number }> = {
  'pubsub.redis': { keys: ['redisHost'], port: 6379 },
  'state.redis': { keys: ['redisHost'], port: 6379 },
  'pubsub.kafka': { keys: ['brokers'], port: 9092 },
  'pubsub.rabbitmq': { keys: ['connectionString', 'host'], port: 5672 },
  'pubsub.jetstream': { keys: ['natsURL'], port: 4222 },
  'pubsub.mqtt3': { keys: ['url'], port: 1883 },
  'pubsub.mqtt': { keys: ['url'], port: 1883 }
}
const TLS_PORTS: Record<string, number> = { 'amqps:': 5671, 'ssl:': 8883, 'tls:': 8883, 'mqtts:': 8883 }

/** Host and port a component connects to: `host:port` or a URL; of a list, the first. */
function addressOf (r: Resource): { key: string, host: string, port: number } | { key?: string, unknown: string } {
  const type = r.spec?.type ?? '?'
  const spec = ADDRESS[type]
  if (!spec) return { unknown: `the lab cannot tell where ${type} connects` }
  const item = (r.spec?.metadata ?? []).find((m) => spec.keys.includes(m.name ?? ''))
  if (!item) return { key: spec.keys[0], unknown: `it has no ${spec.keys[0]}` }
  if (typeof item.value !== 'string' && typeof item.value !== 'number') return { key: item.name, unknown: `${item.name} comes from a secret` }
  const first = String(item.value).split(',')[0]!.trim()
  try {
    const url = new URL(first.includes('://') ? first : `tcp://${first}`)
    const port = url.port ? Number(url.port) : (TLS_PORTS[url.protocol] ?? spec.port)
    return { key: item.name!, host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port }
  } catch {
    return { key: item.name, unknown: `${item.name} "${first}" is not an address` }
  }
}

const isLocal = (host: string) => host === 'localhost' || host === '::1' || /^127\./.test(host)

/** Undefined when something accepts a TCP connection there within `ms`, else why not. */
function reach (host: string, port: number, ms = 1000): Promise<string | undefined> {
  return new Promise((done) => {
    const socket = createConnection({ host, port })
    const finish = (why?: string) => { clearTimeout(timer); socket.destroy(); done(why) }
    const timer = setTimeout(() => finish(`no answer within ${ms / 1000} s`), ms)
    socket.once('connect', () => finish())
    socket.once('error', (err: NodeJS.ErrnoException & { errors?: NodeJS.ErrnoException[] }) => {
      const code = err.code ?? err.errors?.[0]?.code
      finish(({ ECONNREFUSED: 'connection refused', ENOTFOUND: 'unknown host', EAI_AGAIN: 'unknown host' } as Record<string, string>)[code ?? ''] ?? code ?? err.message)
    })
  })
}

/**
 * `what` (the broker, the state store) is the component `r` in `file`; `labName` the broker
 * `npm start` starts for it when nothing answers, if it is one of the lab's.
 */
async function checkServer (what: string, r: Resource, file: string, labName: string | undefined): Promise<Result> {
  const type = r.spec?.type ?? '?'
  if (type.endsWith('.in-memory')) return ok(`${what}: ${type} (${file}) needs no server`)
  const lab = labName ? LAB_BROKERS[labName] : undefined
  const label = lab?.label ?? type
  const address = addressOf(r)
  if ('unknown' in address) return warn(`${what}: ${label} (${file}) not checked: ${address.unknown}`, 'make sure it is running')
  const { key, host, port } = address
  const at = `${host.includes(':') ? `[${host}]` : host}:${port}`
  const why = await reach(host, port)
  if (!why) return ok(`${what}: ${label} (${type}, ${file}) answers on ${at}`)
  const labPort = lab && (Number(scriptSetting(lab.script, lab.portVariable)) || undefined)
  if (lab && isLocal(host) && port === labPort) {
    return warn(`${what}: ${label} is not running on ${at} (${why}); \`npm start\` will start it`, undefined, true)
  }
  if (labPort && isLocal(host)) {
    return problem(`${what}: nothing answers on ${at} (${key} in ${file}: ${why}), and \`npm start\` starts the lab's ${label} on port ${labPort} only`,
      `start ${label} on port ${port} yourself, or set ${key} in ${file} to localhost:${labPort}`)
  }
  return problem(`${what}: ${label} at ${at} (${key} in ${file}) does not answer: ${why}`,
    `start it there, or set ${key} in ${file} to where it runs${labPort ? ` (\`npm start\` starts one for localhost:${labPort})` : ''}`)
}

/** The broker of the run: lab-run.ts's BROKER_FILE, its orderpubsub component. */
async function checkBroker (plan: Plan, files: YamlFile[], componentsBroken: boolean): Promise<Result> {
  if ('error' in plan) {
    // lab-run.ts stops on component files it cannot use; those are reported below, better.
    return componentsBroken ? warn('broker: not checked until the component files (below) are fixed') : problem(plan.error)
  }
  const file = files.find((f) => resolve(f.path) === resolve(plan.vars.BROKER_FILE ?? ''))
  const component = file?.resources.find(isOrderPubsub)
  if (!file || !component) return warn(`broker: not checked: no ${PUBSUB_NAME} component in ${plan.vars.BROKER_FILE}`)
  return checkServer('broker', component, rel(file.path), plan.vars.BROKER)
}

async function checkStateStore (files: YamlFile[]): Promise<Result> {
  for (const f of files) {
    const store = f.resources.find((r) => isComponent(r, 'state.') && r.metadata?.name === STATE_STORE_NAME)
    // `npm start` brings up Redis for the state store whatever the broker (scripts/start.sh).
    if (store) return checkServer('state store', store, rel(f.path), store.spec?.type === 'state.redis' ? 'redis' : undefined)
  }
  return warn(`state store: not checked: no state store named '${STATE_STORE_NAME}' (see the component files below)`)
}

// ---------------------------------------------------------------------------------------
// Processes: lab processes still running, and who holds a port

interface Proc { pid: number, command: string, lab: boolean }

// What stop.sh stops: the runner, sidecars and apps whose command line or working
// directory is inside this project (not a copy of it elsewhere, not another project).
const LAB_COMMAND = /multi-app-run\.ts|daprd|src\/(server|main)\.ts/

function processes (): Proc[] {
  if (!existsSync('/proc/self/cmdline')) return []
  const inRepo = (path: string) => path === REPO || path.startsWith(`${REPO}/`)
  const found: Proc[] = []
  for (const entry of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    const pid = Number(entry)
    if (pid === process.pid) continue
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)
      if (argv.length === 0) continue // kernel threads, zombies
      const line = argv.join(' ')
      let lab = false
      if (LAB_COMMAND.test(line)) {
        let cwd = ''
        try { cwd = readlinkSync(`/proc/${pid}/cwd`) } catch { /* another user's */ }
        lab = inRepo(cwd) || argv.some((a) => inRepo(a))
      }
      const command = [basename(argv[0]!), ...argv.slice(1)].join(' ')
      found.push({ pid, command: command.length > 80 ? `${command.slice(0, 77)}...` : command, lab })
    } catch { /* gone meanwhile */ }
  }
  return found
}

function checkStale (procs: Proc[]): Result {
  if (!existsSync('/proc/self/cmdline')) return ok('lab processes: not looked for (no /proc on this system)')
  const lab = procs.filter((p) => p.lab)
  if (lab.length === 0) return ok('no lab processes running')
  const list = lab.slice(0, 5).map((p) => `pid ${p.pid} (${p.command})`).join(', ') + (lab.length > 5 ? `, and ${lab.length - 5} more` : '')
  return warn(`${lab.length} lab process${lab.length > 1 ? 'es are' : ' is'} already running (an earlier run not stopped, or one in another terminal): ${list}`, '`npm run stop`')
}

/** Whether the port can be listened on, as the app or sidecar will (loopback). */
function portFree (port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer()
    server.once('error', () => done(false))
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)))
  })
}

/** The pid listening on a TCP port (Linux: socket inode in /proc/net/tcp*, then /proc/<pid>/fd). */
function holderOf (port: number): number | undefined {
  const inodes = new Set<string>()
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = ''
    try { text = readFileSync(table, 'utf8') } catch { continue }
    for (const row of text.split('\n').slice(1)) {
      const cols = row.trim().split(/\s+/)
      // local_address is HEXIP:HEXPORT; state 0A is LISTEN; the inode is column 10.
      if (cols[3] === '0A' && parseInt(cols[1]?.split(':')[1] ?? '', 16) === port) inodes.add(`socket:[${cols[9]}]`)
    }
  }
  if (inodes.size === 0) return undefined
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        if (inodes.has(readlinkSync(`/proc/${pid}/fd/${fd}`))) return Number(pid)
      }
    } catch { /* gone, or another user's */ }
  }
  return undefined
}

interface AppSpec { appID: string, appPort?: number, daprHTTPPort?: number, daprGRPCPort?: number, metricsPort?: number }

/** The ports the run file pins: apps' appPort, and any fixed sidecar port. */
async function checkPorts (plan: Plan, procs: Proc[]): Promise<Result[]> {
  const runFile = 'error' in plan ? join(REPO, 'dapr.yaml') : plan.vars.RUN_FILE!
  let apps: AppSpec[]
  try {
    apps = (parse(readFileSync(runFile, 'utf8')) as { apps?: AppSpec[] }).apps ?? []
  } catch (err) {
    return [problem(`${rel(runFile)} cannot be read: ${(err as Error).message.split('\n')[0]}`, `correct ${rel(runFile)}`)]
  }
  const pinned = new Map<number, string>()
  for (const app of apps) {
    for (const key of ['appPort', 'daprHTTPPort', 'daprGRPCPort', 'metricsPort'] as const) {
      const port = app[key]
      if (typeof port === 'number' && !pinned.has(port)) pinned.set(port, `${app.appID} ${key}`)
    }
  }
  if (pinned.size === 0) return [ok('ports: the apps of this run pin none')]
  const results: Result[] = []
  for (const [port, what] of pinned) {
    if (await portFree(port)) continue
    const pid = holderOf(port)
    const holder = procs.find((p) => p.pid === pid)
    if (pid === undefined) {
      results.push(problem(`port ${port} (${what}) is in use by another process`,
        `find it (\`ss -ltnp 'sport = :${port}'\` or \`lsof -i :${port}\`) and stop it; \`npm run stop\` if it is a lab run left behind`))
    } else if (holder?.lab) {
      results.push(problem(`port ${port} (${what}) is in use by pid ${pid} (${holder.command}), a lab process`, '`npm run stop` (a lab run left behind), or stop that run'))
    } else {
      results.push(problem(`port ${port} (${what}) is in use by pid ${pid} (${holder?.command ?? '?'})`, `stop that process (\`kill ${pid}\`)`))
    }
  }
  if (results.length > 0) return results
  return [ok(`ports free: ${[...pinned].map(([port, what]) => `${port} (${what})`).join(', ')}`)]
}

// ---------------------------------------------------------------------------------------

async function main (): Promise<void> {
  const args = process.argv.slice(2)
  const beforeStart = args.includes('--before-start')
  const labArgs = args.filter((a) => a !== '--before-start')
  // lab-run.ts takes a moment (its own node process): it runs while the first checks do.
  const planning = planRun(labArgs)

  // A check that fails by itself must not stop the lab: it says so and the others go on.
  const safely = async (name: string, check: () => Result | Result[] | Promise<Result | Result[]>): Promise<Result[]> => {
    try {
      return [await check()].flat()
    } catch (err) {
      return [warn(`${name}: the check itself failed: ${(err as Error).message.split('\n')[0]}`)]
    }
  }
  const first = await Promise.all([
    safely('Node.js', checkNode),
    safely('npm dependencies', checkDependencies),
    safely('Dapr CLI', checkCli),
    safely('Dapr runtime', checkRuntime)
  ])
  const plan = await planning
  const files = 'error' in plan ? yamlIn(COMPONENTS).map(readYaml) : runComponents(plan.vars.BROKER_FILE)
  const components = await safely('component files', () => checkComponents(files, labArgs.includes('--declarative')))
  const procs = processes()
  const rest = await Promise.all([
    safely('broker', () => checkBroker(plan, files, components.some((r) => r.blocking))),
    safely('state store', () => checkStateStore(files)),
    safely('ports', () => checkPorts(plan, procs)),
    safely('lab processes', () => checkStale(procs))
  ])
  const results = [...first, ...rest, components].flat()
  const blocked = results.some((r) => r.blocking) || 'error' in plan

  if (!beforeStart) {
    process.stdout.write(results.map((r) => `${format(r)}\n`).join(''))
  } else {
    // Before a start, only what is wrong, and not what `npm start` is about to set right.
    const shown = results.filter((r) => !r.ok && !r.startFixes)
    process.stderr.write(shown.map((r) => `${format(r)}\n`).join(''))
    if (blocked) process.stderr.write('[lab] npm start stopped before starting anything: fix the problem above and run it again (`npm run doctor` checks without starting).\n')
    else if (!('error' in plan)) process.stdout.write(plan.stdout)
  }
  process.exitCode = blocked ? 1 : 0
}

await main()
