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
// `npm start` runs the same checks first (checkBeforeStart), on the plan it is about to
// run, and shows only what is wrong.
import { execa } from 'execa'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { createConnection } from 'node:net'
import { dirname, join, relative, resolve } from 'node:path'
import { portToPid } from 'pid-port'
import { parseAllDocuments } from 'yaml'
import { PUBSUB_NAME, STATE_STORE_NAME } from '../../shared/pubsub.ts'
import { BROKERS, brokerOfType } from '../brokers.ts'
import { COMPONENTS, SUBSCRIPTIONS, tryPlan, yamlFiles as yamlIn } from '../plan.ts'
import { portIsFree } from '../ports.ts'
import { listProcesses, onPath } from '../processes.ts'
import { isLabProcess, runState } from '../run/supervise.ts'
import { findDaprRuntime } from '../services/dapr-runtime.ts'
import { BUILT_RUNTIME, REPO, runtimeRoots } from '../settings.ts'


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

async function run (file: string, args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  const r = await execa(file, args, { cwd: REPO, timeout: 10_000, reject: false })
  return { code: r.exitCode ?? 1, stdout: r.stdout, stderr: r.stderr || (r.failed && !r.stdout ? r.message ?? '' : '') }
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

// The rule of lab/bootstrap.mjs: installed, and not older than the lock file.
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
  if (!dapr) return ok('Dapr CLI not installed, and not needed: `npm start` runs dapr.yaml with the project\'s runner (lab/run/multi-app-run.ts)')
  const version = /CLI version:\s*(\S+)/.exec((await run(dapr, ['--version'])).stdout)?.[1] ?? '(version unknown)'
  return ok(`Dapr CLI ${version} at ${dapr}: \`npm start\` runs \`dapr run -f\``)
}

// Where lab/services/dapr-runtime.ts looks, in its order, then where it builds daprd.
async function checkRuntime (): Promise<Result> {
  const found = findDaprRuntime()
  if (!found) {
    const looked = [...new Set([...runtimeRoots(), BUILT_RUNTIME])].map((r) => join(r, '.dapr', 'bin')).join(', ')
    if (onPath('go')) {
      return warn(`Dapr runtime not found (looked in ${looked})`, `none needed: \`npm start\` builds it once with Go (about 3 minutes); or install the Dapr CLI and run \`dapr init --slim\``, true)
    }
    return problem(`Dapr runtime not found (looked in ${looked}), and Go is not installed to build one`,
      'install the Dapr CLI (https://docs.dapr.io/getting-started/install-dapr-cli/) and run `dapr init --slim`, or install Go 1.26+ so that `npm start` builds it')
  }
  const { daprd } = found
  const origin = { built: 'built by this project: lab/services/dapr-runtime.ts', 'dapr init': 'from `dapr init`', DAPR_RUNTIME_PATH: 'from DAPR_RUNTIME_PATH' }[found.origin]
  const built = BUILT_RUNTIME
  const { code, stdout, stderr } = await run(daprd, ['--version'])
  if (code !== 0) {
    return problem(`daprd at ${daprd} (${origin}) does not run: ${(stderr || stdout).trim().split('\n')[0]}`,
      origin.startsWith('built') ? `remove ${built} and run \`npm start\` to build it again` : 'run `dapr init --slim` again')
  }
  return ok(`Dapr runtime: daprd ${stdout.trim()} at ${daprd} (${origin})`)
}

type PlanResult = ReturnType<typeof tryPlan>

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

const isComponent = (r: Resource, prefix: string) => r.kind === 'Component' && (r.spec?.type ?? '').startsWith(prefix)
const isOrderPubsub = (r: Resource) => isComponent(r, 'pubsub.') && r.metadata?.name === PUBSUB_NAME

/**
 * The component files the run loads: components/, or, with `--broker NAME`, the chosen
 * broker's file in place of components/'s orderpubsub (as lab/plan.ts does).
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
    for (const f of yamlIn(SUBSCRIPTIONS).map(readYaml)) {
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

// Where each component type keeps its address, and its port when the address names none:
// the brokers' table (lab/brokers.ts), and Redis for the state store.
function addressSpec (type: string): { keys: string[], port: number } | undefined {
  const broker = brokerOfType(type === 'state.redis' ? 'pubsub.redis' : type === 'pubsub.mqtt' ? 'pubsub.mqtt3' : type)
  return broker && { keys: BROKERS[broker].addressKeys, port: BROKERS[broker].defaultPort }
}
const TLS_PORTS: Record<string, number> = { 'amqps:': 5671, 'ssl:': 8883, 'tls:': 8883, 'mqtts:': 8883 }

/** Host and port a component connects to: `host:port` or a URL; of a list, the first. */
function addressOf (r: Resource): { key: string, host: string, port: number } | { key?: string, unknown: string } {
  const type = r.spec?.type ?? '?'
  const spec = addressSpec(type)
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
  const lab = labName ? (BROKERS as Record<string, typeof BROKERS.redis | undefined>)[labName] : undefined
  const label = lab?.label ?? type
  const address = addressOf(r)
  if ('unknown' in address) return warn(`${what}: ${label} (${file}) not checked: ${address.unknown}`, 'make sure it is running')
  const { key, host, port } = address
  const at = `${host.includes(':') ? `[${host}]` : host}:${port}`
  const why = await reach(host, port)
  if (!why) return ok(`${what}: ${label} (${type}, ${file}) answers on ${at}`)
  const labPort = lab?.service.port
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

/** The broker of the run: the plan's broker file, its orderpubsub component. */
async function checkBroker (plan: PlanResult, files: YamlFile[], componentsBroken: boolean): Promise<Result> {
  if ('error' in plan) {
    // The plan stops on component files it cannot use; those are reported below, better.
    return componentsBroken ? warn('broker: not checked until the component files (below) are fixed') : problem(plan.error)
  }
  const file = files.find((f) => resolve(f.path) === resolve(plan.brokerFile))
  const component = file?.resources.find(isOrderPubsub)
  if (!file || !component) return warn(`broker: not checked: no ${PUBSUB_NAME} component in ${plan.brokerFile}`)
  return checkServer('broker', component, rel(file.path), plan.broker)
}

async function checkStateStore (files: YamlFile[]): Promise<Result> {
  for (const f of files) {
    const store = f.resources.find((r) => isComponent(r, 'state.') && r.metadata?.name === STATE_STORE_NAME)
    // `npm start` brings up Redis for the state store whatever the broker (lab/plan.ts).
    if (store) return checkServer('state store', store, rel(f.path), store.spec?.type === 'state.redis' ? 'redis' : undefined)
  }
  return warn(`state store: not checked: no state store named '${STATE_STORE_NAME}' (see the component files below)`)
}

// ---------------------------------------------------------------------------------------
// Processes: lab processes still running, and who holds a port

interface Proc { pid: number, command: string, lab: boolean }

// The lab's processes are what `npm run stop` stops (lab/run/supervise.ts, isLabProcess).
async function processes (): Promise<Proc[]> {
  const run = runState()
  return (await listProcesses()).filter((p) => p.pid !== process.pid).map((p) => {
    const command = p.cmd.replace(/^\S*\//, '')
    return { pid: p.pid, command: command.length > 80 ? `${command.slice(0, 77)}...` : command, lab: isLabProcess(p, run) }
  })
}

function checkStale (procs: Proc[]): Result {
  const lab = procs.filter((p) => p.lab)
  if (lab.length === 0) return ok('no lab processes running')
  const list = lab.slice(0, 5).map((p) => `pid ${p.pid} (${p.command})`).join(', ') + (lab.length > 5 ? `, and ${lab.length - 5} more` : '')
  return warn(`${lab.length} lab process${lab.length > 1 ? 'es are' : ' is'} already running (an earlier run not stopped, or one in another terminal): ${list}`, '`npm run stop`')
}


/** The ports the run pins: apps' appPort, and any fixed sidecar port. */
async function checkPorts (plan: PlanResult, procs: Proc[]): Promise<Result[]> {
  if ('error' in plan) return []
  const apps = plan.apps
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
    if (await portIsFree(port)) continue
    const pid = await portToPid({ port, host: '127.0.0.1' }).catch(() => undefined) ?? await portToPid(port).catch(() => undefined)
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

async function runChecks (plan: PlanResult): Promise<{ results: Result[], blocked: boolean }> {
  // A check that fails by itself must not stop the lab: it says so and the others go on.
  const safely = async (name: string, check: () => Result | Result[] | Promise<Result | Result[]>): Promise<Result[]> => {
    try {
      return [await check()].flat()
    } catch (err) {
      return [warn(`${name}: the check itself failed: ${(err as Error).message.split('\n')[0]}`)]
    }
  }
  const files = 'error' in plan ? yamlIn(COMPONENTS).map(readYaml) : runComponents(plan.brokerFile)
  const components = await safely('component files', () => checkComponents(files, !('error' in plan) && plan.options.declarative === true))
  // Without `ps` (a PATH that lacks it), the process checks say so; the others go on.
  const procs = await processes().catch((err: Error) => err)
  const results = [...await Promise.all([
    safely('Node.js', checkNode),
    safely('npm dependencies', checkDependencies),
    safely('Dapr CLI', checkCli),
    safely('Dapr runtime', checkRuntime),
    safely('broker', () => checkBroker(plan, files, components.some((r) => r.blocking))),
    safely('state store', () => checkStateStore(files)),
    safely('ports', () => checkPorts(plan, procs instanceof Error ? [] : procs)),
    safely('lab processes', () => { if (procs instanceof Error) throw procs; return checkStale(procs) })
  ]), components].flat()
  return { results, blocked: results.some((r) => r.blocking) || 'error' in plan }
}

/**
 * Before `npm start` runs `plan`: the same checks, showing only what is wrong and not what
 * the start is about to set right. False when something blocks the run.
 */
export async function checkBeforeStart (plan: PlanResult): Promise<boolean> {
  const { results, blocked } = await runChecks(plan)
  const shown = results.filter((r) => !r.ok && !r.startFixes)
  process.stderr.write(shown.map((r) => `${format(r)}\n`).join(''))
  if (blocked) process.stderr.write('[lab] npm start stopped before starting anything: fix the problem above and run it again (`npm run doctor` checks without starting).\n')
  return !blocked
}

export async function doctor (argv: string[]): Promise<number> {
  const { results, blocked } = await runChecks(tryPlan(argv))
  process.stdout.write(results.map((r) => `${format(r)}\n`).join(''))
  return blocked ? 1 : 0
}
