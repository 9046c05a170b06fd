// Where the lab's things live and how it talks to them: paths, versions, ports and probe
// settings, written down once. Everything else imports them from here.
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'

/** The repository root. */
export const REPO = resolve(import.meta.dirname, '..')

/** Downloads, builds and broker data live outside the repository. */
export const CACHE = process.env.DAPR_LAB_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'dapr-pubsub-lab')

/** What the project's runs and tools write inside the repository (ignored by git). */
export const LAB_STATE = join(REPO, '.dapr')

export const DAPR_VERSION = '1.18.3'
export const KAFKA_VERSION = '4.3.1'
export const ZIPKIN_VERSION = '3.6.1'
export const KUSTOMIZE_VERSION = 'v5.8.2'

/** Every server the lab starts listens on loopback only. */
export const HOST = '127.0.0.1'

/** The ports of the servers the lab provisions (and the doctor checks); the apps' are in lab/roster.ts. */
export const PORTS = {
  redis: 6379,
  kafka: 9092,
  kafkaController: 9093,
  rabbitmq: 5672,
  nats: 4222,
  mqtt: 1883,
  zipkin: 9411
} as const

/**
 * The sidecars' app health probe (dapr.yaml's order-processor, and every subscriber the
 * plan adds): down after `threshold` failed probes in a row, about 3 s, which must stay
 * below the shortest retry budget of components/resiliency.yaml (about 4 s) so that a dead
 * app's orders wait in the broker instead of burning their retries. 900 ms per probe, as a
 * busy app answers slowly.
 */
export const APP_HEALTH = { path: '/healthz', intervalS: 1, timeoutMs: 900, threshold: 3 } as const

/** How long a sidecar may take to become ready before the project's runner gives up. */
export const SIDECAR_READY_TIMEOUT_S = Number(process.env.LAB_SIDECAR_TIMEOUT_S) || 60

/** How long a run's processes get to stop after Ctrl+C before they are killed. */
export const STOP_GRACE_MS = 10_000

/** Where a Dapr runtime is looked for, in this order: $DAPR_RUNTIME_PATH/.dapr, then ~/.dapr (what `dapr init` leaves). */
export function runtimeRoots (): string[] {
  return [process.env.DAPR_RUNTIME_PATH, homedir()].filter((r): r is string => !!r)
}

/** Where the project builds its own daprd, laid out like `dapr init --slim` (bin/daprd under .dapr). */
export const BUILT_RUNTIME = join(CACHE, `dapr-${DAPR_VERSION}`)

/** daprd of a runtime root. */
export const daprdOf = (root: string): string => join(root, '.dapr', 'bin', process.platform === 'win32' ? 'daprd.exe' : 'daprd')

/** `[lab] ...` progress and messages of the lab tool, on stderr (stdout is the run's). */
export function say (message: string): void {
  process.stderr.write(`[lab] ${message}\n`)
}

/** A failure the user can fix: the message says how. The tool prints it and exits 1, without a stack trace. */
export class LabError extends Error {}
