// Runs a Dapr multi-app run file (dapr.yaml) the way `dapr run -f` does: for each app, a
// real daprd sidecar and the app's command, with the same environment variables, resource
// paths, log files and console prefixes as the Dapr CLI.
//
// Why it exists: the Dapr CLI is the first choice (`npm start` uses it when `dapr` is on
// PATH), but on machines that only reach package registries the CLI cannot be had, while
// daprd can be built from Dapr's Go module. This keeps the lab runnable there.
//
// Usage: node --import tsx lab/run/multi-app-run.ts [run-file]   (default ./dapr.yaml)
// `npm start` (lab/run/supervise.ts) starts it in a process group of its own, as the CLI
// puts itself in one, and passes Ctrl+C on to it.
import { spawn, type ChildProcess } from 'node:child_process'
import { appendFileSync, createWriteStream, existsSync, mkdirSync, type WriteStream } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { appExitedLine, appPrefix, sidecarPrefix, sidecarRestartLine } from '../../shared/log-lines.ts'
import { appEnvironment, readRunFile, type AppSpec, type RunFile } from '../run-file.ts'
import { freePort } from '../ports.ts'
import { poll } from '../poll.ts'
import { logDir, logFile, timestamp } from './logs.ts'
import { SIDECAR_READY_TIMEOUT_S, STOP_GRACE_MS, daprdOf } from '../settings.ts'

interface Running {
  id: string
  role: 'daprd' | 'app'
  child: ChildProcess
  logPath: string
  recent: string[]
  exited?: number | null
  /** A sidecar that got healthy once; if it dies later, it is restarted. */
  ready?: boolean
  restart: () => Running
}

const runFilePath = resolve(process.argv[2] ?? 'dapr.yaml')
const runDir = dirname(runFilePath)
const runtimeRoot = join(process.env.DAPR_RUNTIME_PATH || homedir(), '.dapr')
const daprd = daprdOf(dirname(runtimeRoot))
const running: Running[] = []
let stopping = false

function say (line: string): void { process.stdout.write(`${line}\n`) }



// Same order as the CLI: the app's own paths, then <appDir>/.dapr/resources, then the
// common ones, then the runtime's default components folder.
function resourcesPaths (app: AppSpec, common: RunFile['common'], appDir: string): string[] {
  const own = app.resourcesPaths ?? (app.resourcesPath ? [app.resourcesPath] : [])
  if (own.length > 0) return own.map((p) => resolve(runDir, p))
  const local = join(appDir, '.dapr', 'resources')
  if (existsSync(local)) return [local]
  const shared = common?.resourcesPaths ?? (common?.resourcesPath ? [common.resourcesPath] : [])
  if (shared.length > 0) return shared.map((p) => resolve(runDir, p))
  return [join(runtimeRoot, 'components')]
}

function pipeLines (stream: NodeJS.ReadableStream, prefix: string | undefined, file: WriteStream, recent: string[]): void {
  createInterface({ input: stream }).on('line', (line) => {
    file.write(`${line}\n`)
    recent.push(line)
    if (recent.length > 200) recent.shift()
    if (prefix !== undefined) say(`${prefix}${line}`)
  })
}

function launch (id: string, role: Running['role'], command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, logPath: string, toConsole: boolean): Running {
  const log = createWriteStream(logPath, { flags: 'a' })
  // Own process group, so Ctrl+C reaches this runner only and it can stop the apps
  // before their sidecars; stop() signals the whole group (tsx spawns a child node).
  const child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  const restart = () => launch(id, role, command, args, cwd, env, logPath, toConsole)
  const entry: Running = { id, role, child, logPath, recent: [], restart }
  const prefix = toConsole ? (role === 'app' ? appPrefix(id) : sidecarPrefix(id)) : undefined
  pipeLines(child.stdout!, prefix, log, entry.recent)
  pipeLines(child.stderr!, prefix, log, entry.recent)
  child.on('error', (err) => say(`== ${id} == cannot start ${command}: ${err.message}`))
  // 'close', not 'exit': by then all of its output has been read.
  child.on('close', (code, signal) => {
    entry.exited = code
    if (stopping) return
    if (role === 'daprd' && entry.ready) {
      // It ran before, so its configuration is fine: restart it as Kubernetes would a
      // sidecar container, on the same ports. Orders it had taken come back from the broker.
      say(sidecarRestartLine(id, signal ?? `code ${code}`, logPath))
      running.splice(running.indexOf(entry), 1)
      const again = entry.restart()
      void sidecarReady(again, Number(args[args.indexOf('--dapr-http-port') + 1]))
    } else if (role === 'daprd') {
      say(`${sidecarPrefix(id)}daprd exited (${signal ?? `code ${code}`}). Its log: ${logPath}`)
      const cause = causeOf(entry.recent)
      if (cause) say(`${sidecarPrefix(id)}Cause: ${cause}`)
      for (const line of errorsIn(entry.recent)) say(`${sidecarPrefix(id)}${line}`)
      void stop(1)
    } else {
      say(appExitedLine(id, code ?? signal ?? 'unknown'))
    }
  })
  running.push(entry)
  return entry
}

// The usual reasons a sidecar does not start, in words that say what to do.
function causeOf (lines: string[]): string | undefined {
  for (const line of lines) {
    const init = /Failed to init component (\S+) \(([^)]+)\)/.exec(line)
    if (!init) continue
    const unreachable = /dial tcp (\S+): (connect: connection refused|i\/o timeout)/.exec(line)
    if (unreachable) {
      return `component ${init[1]} (${init[2]}) cannot reach ${unreachable[1]} (${unreachable[2]}): is the broker running there? ` +
        '`npm start` starts the lab\'s own brokers; start yours, or fix the address in the component file.'
    }
    return `component ${init[1]} (${init[2]}) failed to initialise (the error is below); check its component file.`
  }
  return undefined
}

// daprd's start-up errors only go to its log file; show the ones that explain a failure.
function errorsIn (lines: string[]): string[] {
  const errors = lines.filter((l) => /level=(error|fatal)|"level":"(error|fatal)"/.test(l))
  return (errors.length > 0 ? errors : lines).slice(-5)
}

async function start (file: RunFile): Promise<void> {
  if (!existsSync(daprd)) {
    say(`daprd not found at ${daprd}. Run \`npm start\` (it provisions Dapr) or \`dapr init --slim\`.`)
    process.exit(1)
  }
  const common = file.common ?? {}
  const seen = new Map<string, number>()
  for (const app of file.apps) {
    // Several instances of one app id (competing consumers) get log files of their own.
    const instance = (seen.get(app.appID) ?? 0) + 1
    seen.set(app.appID, instance)
    const logName = instance > 1 ? `${app.appID}-${instance}` : app.appID
    const appDir = resolve(runDir, app.appDirPath ?? '.')
    mkdirSync(logDir(appDir), { recursive: true })
    const ports = {
      http: app.daprHTTPPort ?? await freePort(),
      grpc: app.daprGRPCPort ?? await freePort(),
      metrics: app.metricsPort ?? await freePort(),
      internal: await freePort()
    }
    const protocol = app.appProtocol ?? common.appProtocol ?? 'http'
    const args = [
      '--app-id', app.appID,
      '--dapr-http-port', String(ports.http),
      '--dapr-grpc-port', String(ports.grpc),
      '--metrics-port', String(ports.metrics),
      '--dapr-internal-grpc-port', String(ports.internal),
      '--app-protocol', protocol,
      '--config', resolve(runDir, app.configFilePath ?? common.configFilePath ?? join(runtimeRoot, 'config.yaml')),
      '--log-level', app.logLevel ?? common.logLevel ?? 'info',
      ...resourcesPaths(app, common, appDir).flatMap((p) => ['--resources-path', p])
    ]
    if (app.appPort) args.push('--app-port', String(app.appPort))
    if (app.enableAppHealthCheck ?? common.enableAppHealthCheck) args.push('--enable-app-health-check')
    const health = { path: 'appHealthCheckPath', 'probe-interval': 'appHealthProbeInterval', 'probe-timeout': 'appHealthProbeTimeout', threshold: 'appHealthThreshold' } as const
    for (const [flag, key] of Object.entries(health)) {
      const value = app[key] ?? common[key]
      if (value !== undefined) args.push(`--app-health-${flag === 'path' ? 'check-path' : flag}`, String(value))
    }
    const stamp = timestamp()
    const sidecarLog = logFile(appDir, logName, 'daprd', stamp)
    say(`Starting Dapr sidecar for ${app.appID} (HTTP ${ports.http}, gRPC ${ports.grpc}, metrics ${ports.metrics}); log: ${sidecarLog}`)
    const sidecar = launch(app.appID, 'daprd', daprd, args, appDir, process.env, sidecarLog, false)

    if (!app.command?.length) continue
    const env = appEnvironment(file, app, ports)
    const [command, ...rest] = app.command
    say(`Starting App ${app.appID}: ${app.command.join(' ')}`)
    launch(app.appID, 'app', command!, rest, appDir, env, logFile(appDir, logName, 'app', stamp), true)
    // Unlike the CLI, start the next app only once this one's sidecar is running: it has
    // subscribed by then, so orders published next cannot beat the subscription (brokers
    // such as RabbitMQ and MQTT drop messages for subscriptions that do not exist yet).
    const ready = sidecarReady(sidecar, ports.http, app.appPort)
    if (app !== file.apps.at(-1)) await ready
  }
  say('You\'re up and running! Both Dapr and your apps logs are shown above; Ctrl+C stops them.')
}

// A sidecar that never gets ready stops the run, with the reason, instead of a silent hang.
const readyTimeoutS = SIDECAR_READY_TIMEOUT_S

// daprd answers 204 on /v1.0/healthz once it is fully initialised (subscriptions included).
async function sidecarReady (sidecar: Running, httpPort: number, appPort?: number): Promise<void> {
  const healthy = () => fetch(`http://127.0.0.1:${httpPort}/v1.0/healthz`).then((r) => r.status === 204, () => false)
  let ready = false
  await poll(`the ${sidecar.id} sidecar to be ready`, async () => sidecar.exited !== undefined || stopping || (ready = await healthy()), readyTimeoutS * 1000)
  if (ready) { sidecar.ready = true; return }
  if (sidecar.exited !== undefined || stopping) return
  const waitingForApp = sidecar.recent.some((l) => l.includes('This will block until the app is listening'))
  const cause = waitingForApp && appPort !== undefined
    ? `it is still waiting for the app to listen on port ${appPort} (did the app start? is appPort in dapr.yaml the port it listens on?)`
    : 'see the last lines of its log below'
  say(`${sidecarPrefix(sidecar.id)}not ready after ${readyTimeoutS} s: ${cause}. Its log: ${sidecar.logPath}`)
  for (const line of errorsIn(sidecar.recent)) say(`${sidecarPrefix(sidecar.id)}${line}`)
  await stop(1)
}

function signalGroup (entry: Running, signal: NodeJS.Signals): void {
  if (entry.exited !== undefined || entry.child.pid === undefined) return
  // The group where there are groups: whatever the app started goes too.
  try { process.kill(process.platform === 'win32' ? entry.child.pid : -entry.child.pid, signal) } catch { /* already gone */ }
}

async function stopAll (entries: Running[]): Promise<void> {
  const alive = entries.filter((e) => e.exited === undefined && e.child.pid !== undefined)
  const exits = alive.map((e) => new Promise<void>((ok) => {
    if (e.exited !== undefined) ok()
    else e.child.once('close', () => ok())
  }))
  for (const e of alive) signalGroup(e, 'SIGTERM')
  const timer = setTimeout(() => { for (const e of alive) signalGroup(e, 'SIGKILL') }, STOP_GRACE_MS)
  await Promise.all(exits)
  clearTimeout(timer)
}

// Apps first (they may still be talking to their sidecars), then the sidecars.
// A second call (Ctrl+C again) leaves the first one to finish.
async function stop (code: number): Promise<void> {
  if (stopping) return
  stopping = true
  say('Stopping the apps, then their Dapr sidecars...')
  await stopAll(running.filter((e) => e.role === 'app'))
  await stopAll(running.filter((e) => e.role === 'daprd'))
  say('Stopped.')
  process.exit(code)
}

// Whatever happens to this runner, its apps and sidecars must not outlive it: a reader that
// went away (EPIPE on the console) is ignored, and any other crash stops everything first.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {})
process.on('uncaughtException', (err) => {
  try { appendFileSync(join(runDir, '.dapr', 'multi-app-run.log'), `${new Date().toISOString()} ${err.stack}\n`) } catch {}
  void stop(1)
})
// `on`, not `once`: Ctrl+C often arrives twice (the terminal signals the whole group and
// npm forwards it), and a second one must not kill the runner halfway through stopping.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stop(0))

await start(readRunFile(runFilePath))
