// A Dapr run for the bench: a generated run file under .dapr/bench/<topic>/ (components
// tuned for throughput, app ports 7001/7011/... so the lab and its e2e tests on 6001/6002
// are not disturbed, sidecar ports pinned so the load tool can talk to them), run by the
// project's own runner (lab/run/multi-app-run.ts: the same real daprd sidecars as
// `npm start`). The publishing side is a sidecar-only app `checkout`: the load tool
// itself is its app, through DaprClient.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse, parseAllDocuments, stringify } from 'yaml'
import { OWN_PORTS, freePort, portIsFree } from '../../lab/ports.ts'
import { ProcessGroup } from '../../lab/run/group.ts'
import { writeRunFile, type RunFile } from '../../lab/run-file.ts'
import { RUNNER } from '../../lab/run/supervise.ts'
import { REPO } from '../../lab/settings.ts'
import { BUILD, buildApps } from '../../lab/build.ts'
import { subscriptions } from '../../shared/pubsub.ts'
import { processesUnder, type NamedProcess } from './procs.ts'

export { REPO }
export const BENCH_DIR = join(REPO, '.dapr', 'bench')

/** Who receives the orders: the lab's Fastify order-processor, or one of the bench's own subscribers. */
export type SubscriberKind = 'order-processor' | 'peer' | 'bulk' | 'floor'

const SCRIPT: Record<SubscriberKind, string> = {
  // Compiled, as users deploy it (lab/build.ts): no TypeScript loader in the figures.
  'order-processor': join(BUILD, 'subscriber', 'src', 'server.js'),
  peer: join(REPO, 'bench', 'peer-subscriber.ts'),
  bulk: join(REPO, 'bench', 'bulk-subscriber.ts'),
  // Plain JavaScript: the floor runs without the tsx loader (its thread and memory).
  floor: join(REPO, 'bench', 'floor-subscriber.mjs')
}

/** The apps are compiled once per bench run. */
let built: Promise<void> | undefined

/** First app port of the bench; instance i listens on BASE + 10 i, like `npm start -- --instances`. */
export const BASE_APP_PORT = 7001

export interface PubsubTuning {
  /**
   * Redis component `concurrency`: deliveries a sidecar has in flight to its app at once
   * (the component's worker goroutines; Dapr's default is 10, the lab's component keeps it).
   */
  concurrency: number
  /** Redis component `queueDepth`: messages one XREADGROUP fetches (Dapr's default 100). */
  queueDepth: number
}

/**
 * The bench's defaults, measured with `npm run load -- --count 5000 --redis-concurrency N`
 * on the 2-core box (orders/s, two runs each): 10 -> 968/1028, 32 -> 996/1042,
 * 100 -> 1132/1113/1187, 300 -> 1112/986.
 * - concurrency 100: a worker of the order-processor's sidecar is busy for a whole
 *   delivery (the app's two ledger calls included) while the CPU is free for others;
 *   100 keeps both cores busy (+10 %), more only queues. The lab's component keeps Dapr's
 *   10, which is kinder to a classroom (fewer orders overtaking each other at 1/s).
 * - queueDepth 100: Dapr's default; one XREADGROUP already fetches more than the workers
 *   take at once, and a deeper queue only holds more orders that a crash leaves pending.
 */
export const DEFAULT_TUNING: PubsubTuning = { concurrency: 100, queueDepth: 100 }

export interface RunOptions {
  /** Unique per run (bench-<random>): names the stream, the folder, and marks the processes. */
  topic: string
  subscriber: SubscriberKind
  instances: number
  tuning: PubsubTuning
  /** The lab's tracing configuration (sampling 1, Zipkin) instead of none. */
  tracing: boolean
  /** Extra environment for the subscriber apps (e.g. the bulk subscriber's batch size). */
  env?: Record<string, string>
  /** Sidecar-only publisher app; false for runs where something else publishes. */
  publisher?: boolean
  /** Write a V8 CPU profile of each subscriber to this folder when it stops (--cpu-prof). */
  profileDir?: string
}

export interface Sidecar { appId: string, appPort?: number, httpPort: number, grpcPort: number, metricsPort: number }

/**
 * `count` distinct free ports below the kernel's ephemeral range (32768 and up on Linux):
 * the runner picks the ports not pinned here (the sidecars' internal gRPC port) with
 * listen(0), which takes them from that range, so the two can never pick the same one.
 */
export async function freePorts (count: number, [low, high] = OWN_PORTS): Promise<number[]> {
  const picked: number[] = []
  while (picked.length < count) picked.push(await freePort([low, high]))
  return picked
}

/** The lab's Redis pub/sub component with the bench's tuning set (added or replaced). */
export function tunedPubsub (componentYaml: string, tuning: PubsubTuning): string {
  const doc = parse(componentYaml) as { spec: { metadata: Array<{ name: string, value?: string }> } }
  const set = (name: string, value: string) => {
    const entry = doc.spec.metadata.find((m) => m.name === name)
    if (entry) entry.value = value
    else doc.spec.metadata.push({ name, value })
  }
  set('concurrency', String(tuning.concurrency))
  set('queueDepth', String(tuning.queueDepth))
  return `# Generated by bench/lib/run.ts from components/redis.yaml, tuned for the bench.\n${stringify(doc)}`
}

function isPubsubComponent (file: string): boolean {
  return parseAllDocuments(readFileSync(file, 'utf8')).some((d) => {
    const c = d.toJS() as { kind?: string, spec?: { type?: string } } | null
    return c?.kind === 'Component' && c.spec?.type?.startsWith('pubsub.') === true
  })
}

export class DaprRun {
  readonly dir: string
  readonly sidecars: Sidecar[] = []
  readonly appPorts: number[] = []
  private runner?: ProcessGroup
  private readonly runnerLog: string

  constructor (readonly options: RunOptions) {
    this.dir = join(BENCH_DIR, options.topic)
    this.runnerLog = join(this.dir, 'runner.log')
  }

  /** Where the subscribers' output lands (the runner's per-app log files). */
  get appLogDir (): string { return join(this.dir, 'subscriber', '.dapr', 'logs') }

  get publisherSidecar (): Sidecar {
    const s = this.sidecars.find((c) => c.appId === 'checkout')
    if (!s) throw new Error('this run has no publisher sidecar')
    return s
  }

  /** Writes the run file and its resources; returns the run file's path. */
  async prepare (): Promise<string> {
    const { topic, subscriber, instances, tuning } = this.options
    if (subscriber === 'order-processor') await (built ??= buildApps())
    rmSync(this.dir, { recursive: true, force: true })
    const resources = join(this.dir, 'resources')
    mkdirSync(resources, { recursive: true })
    // The lab's components, except its pub/sub, which is the Redis one with the bench's tuning.
    const components = join(REPO, 'components')
    for (const f of readdirSync(components).filter((n) => /\.ya?ml$/.test(n))) {
      if (!isPubsubComponent(join(components, f))) copyFileSync(join(components, f), join(resources, f))
    }
    writeFileSync(join(resources, 'redis.yaml'), tunedPubsub(readFileSync(join(components, 'redis.yaml'), 'utf8'), tuning))

    // Tracing samples every request in the lab (to show a trace per order); the bench
    // leaves it off unless asked (--tracing), as a production deployment samples little:
    // a span per publish and per delivery is measurable CPU in both sidecars.
    const config = this.options.tracing
      ? join(REPO, 'config', 'tracing.yaml')
      : join(this.dir, 'config.yaml')
    if (!this.options.tracing) {
      writeFileSync(config, stringify({ apiVersion: 'dapr.io/v1alpha1', kind: 'Configuration', metadata: { name: 'bench' }, spec: { tracing: { samplingRate: '0' } } }))
    }

    // The order-processor's entry of dapr.yaml (health checks...), so the bench runs the
    // app as the lab does; only ports, paths and the command's script differ.
    const lab = parse(readFileSync(join(REPO, 'dapr.yaml'), 'utf8')) as { apps: Array<Record<string, unknown>> }
    const template = lab.apps.find((a) => a.appID === 'order-processor') ?? {}
    const apps: Array<Record<string, unknown>> = []
    // HTTP, gRPC and metrics port of every sidecar, pinned: the load tool talks to them.
    const ports = await freePorts(3 * (instances + 1))
    for (let i = 0; i < instances; i++) {
      const appPort = BASE_APP_PORT + 10 * i
      if (!(await portIsFree(appPort))) {
        throw new Error(`port ${appPort} is in use: is another bench or load run still going? (stop it, or \`npm run stop\`)`)
      }
      const [httpPort, grpcPort, metricsPort] = ports.splice(0, 3) as [number, number, number]
      const sidecar: Sidecar = { appId: 'order-processor', appPort, httpPort, grpcPort, metricsPort }
      this.sidecars.push(sidecar)
      this.appPorts.push(appPort)
      // The quickstart's DaprServer has no health route: its sidecar runs without app health checks.
      const health = subscriber === 'peer' ? {} : {
        ...Object.fromEntries(Object.entries(template).filter(([k]) => /^(enableAppHealthCheck|appHealth)/.test(k))),
        // Dapr's default probe timeout is 500 ms and the lab's threshold 2. At saturation a
        // GET /healthz waits behind ~100 deliveries in the app; when it is late, the sidecar
        // marks the app unhealthy, abandons the deliveries in flight, and those orders come
        // back only after the component's processingTimeout (20 s): measured p99 21 s with 3
        // instances on 2 cores. A late answer is not a dead app: 900 ms (it must stay below
        // the 1 s interval) and 5 misses in a row before the sidecar stops delivering.
        appHealthProbeTimeout: 900,
        appHealthThreshold: 5
      }
      apps.push({
        ...health,
        appID: 'order-processor',
        // One folder for all instances: the runner names their logs apart (order-processor-2_app_...).
        appDirPath: join(this.dir, 'subscriber'),
        appPort,
        daprHTTPPort: sidecar.httpPort,
        daprGRPCPort: sidecar.grpcPort,
        metricsPort: sidecar.metricsPort,
        command: ['node', ...(this.options.profileDir ? ['--cpu-prof', '--cpu-prof-dir', this.options.profileDir] : []), ...(SCRIPT[subscriber].endsWith('.ts') ? ['--import', 'tsx'] : []), SCRIPT[subscriber]],
        env: {
          // The floor imports no TypeScript: it gets the order-processor's subscriptions from here.
          ...(subscriber === 'floor' ? { FLOOR_SUBSCRIPTIONS: JSON.stringify(subscriptions(topic)) } : {}),
          ...this.options.env,
          ...(instances > 1 ? { INSTANCE: String(i + 1) } : {})
        }
      })
    }
    if (this.options.publisher !== false) {
      const [httpPort, grpcPort, metricsPort] = ports.splice(0, 3) as [number, number, number]
      const sidecar: Sidecar = { appId: 'checkout', httpPort, grpcPort, metricsPort }
      this.sidecars.push(sidecar)
      apps.push({ appID: 'checkout', appDirPath: join(this.dir, 'checkout'), daprHTTPPort: httpPort, daprGRPCPort: grpcPort, metricsPort })
    }
    for (const app of apps) mkdirSync(app.appDirPath as string, { recursive: true })

    const runFile = writeRunFile(this.dir, {
      version: 1,
      common: {
        resourcesPath: resources,
        configFilePath: config,
        env: {
          // Machine-readable lines: the bench reads each processed order's latencyMs from them.
          LOG_FORMAT: 'json',
          LOG_LEVEL: 'info',
          // Whatever a .env says, the bench measures the plain lab.
          SIMULATED_OUTAGE_MS: '0',
          SUBSCRIPTIONS: 'programmatic'
        }
      },
      apps: apps as unknown as RunFile['apps']
    }, `bench/lib/run.ts for topic ${topic}`)
    return runFile
  }

  /** Starts the runner and waits until every sidecar (and so every app) is ready. */
  async start (readyTimeoutMs = 90_000): Promise<void> {
    const runFile = await this.prepare()
    // Own process group: the runner stops its apps and sidecars on SIGTERM, and a
    // Ctrl+C in the terminal reaches the bench first, which then stops the run in order.
    this.runner = new ProcessGroup(process.execPath, ['--import', 'tsx', RUNNER, runFile], {
      cwd: REPO,
      env: { ...process.env, ORDERS_TOPIC: this.options.topic },
      output: { file: this.runnerLog }
    })
    const runner = this.runner
    for (const sidecar of this.sidecars) {
      await runner.until(`the ${sidecar.appId} sidecar to be ready`, () => fetch(`http://127.0.0.1:${sidecar.httpPort}/v1.0/healthz`).then((r) => r.status === 204, () => false), readyTimeoutMs)
        .catch((err: Error) => { throw new Error(`${err.message.split('\n')[0]}; the runner's last lines:\n${this.tail()}`) })
    }
  }

  /** The last lines the runner printed, for error messages. */
  tail (lines = 15): string {
    try {
      return readFileSync(this.runnerLog, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
    } catch {
      return '(no runner output)'
    }
  }

  /** The run's processes: runner, sidecars, apps. */
  async processes (): Promise<NamedProcess[]> {
    return this.runner?.pid === undefined ? [] : await processesUnder(this.runner.pid)
  }

  /**
   * Stops the run the way Ctrl+C does (apps first, then sidecars) and waits until no
   * process of it is left; what is still there after 30 s is killed (it carries this
   * run's unique topic, so it is ours).
   */
  async stop ({ keepFiles = false } = {}): Promise<void> {
    await this.runner?.stop({ signal: 'SIGTERM', graceMs: 30_000 })
    if (!keepFiles) rmSync(this.dir, { recursive: true, force: true })
  }

}
