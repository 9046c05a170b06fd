// The lab's apps, said once: each app id with its folder, entry, app port, and the runs
// that start it. dapr.yaml stays the user's file (the lab's two apps, as `dapr run -f .`
// reads it); the doctor and a unit test check it against this roster. The runs that add
// apps (--fanout, --shop) take them from here, in this order (subscribers first: the app
// that publishes comes last, once every subscription exists).
import type { AppSpec, RunFile } from './run-file.ts'
import { APP_HEALTH } from './settings.ts'

/** The runs of `npm start` that start a different set of apps. */
export type RunKind = 'lab' | 'fanout' | 'shop'

export interface RosterApp {
  appID: string
  /** Its folder, relative to the repository (the run file's appDirPath). */
  dir: string
  /** What `node --import tsx` runs, relative to its folder. */
  entry: string
  /** The port it listens on (a subscriber); a named run gives it another (lab/plan.ts). */
  port?: number
  /** The runs that start it. */
  runs: RunKind[]
}

export const ROSTER: readonly RosterApp[] = [
  { appID: 'order-processor', dir: 'subscriber', entry: 'src/server.ts', port: 6001, runs: ['lab', 'fanout'] },
  { appID: 'billing', dir: 'shop', entry: 'src/billing.ts', port: 6004, runs: ['shop'] },
  { appID: 'notification', dir: 'shop', entry: 'src/notification.ts', port: 6005, runs: ['shop'] },
  { appID: 'shipping', dir: 'shipping', entry: 'src/server.ts', port: 6002, runs: ['fanout', 'shop'] },
  { appID: 'checkout', dir: 'publisher', entry: 'src/main.ts', runs: ['lab', 'fanout'] },
  { appID: 'order', dir: 'shop', entry: 'src/order.ts', port: 6003, runs: ['shop'] }
]

export function rosterApp (appID: string): RosterApp {
  const app = ROSTER.find((a) => a.appID === appID)
  if (!app) throw new Error(`${appID} is not an app of the lab (lab/roster.ts)`)
  return app
}

/** The order-processor's port in dapr.yaml (instance i of --instances listens on + 10 i). */
export const ORDER_PROCESSOR_PORT = rosterApp('order-processor').port!

/** The apps a run starts, in start order. */
export const appsOf = (run: RunKind): RosterApp[] => ROSTER.filter((a) => a.runs.includes(run))

/**
 * An app of the roster as a run file entry: a subscriber gets the same app health check
 * as dapr.yaml's order-processor (lab/settings.ts says why these values).
 */
export function appSpec (app: RosterApp): AppSpec {
  const spec: AppSpec = { appID: app.appID, appDirPath: `./${app.dir}/`, command: ['node', '--import', 'tsx', app.entry] }
  if (app.port === undefined) return spec
  return {
    ...spec,
    appPort: app.port,
    enableAppHealthCheck: true,
    appHealthCheckPath: APP_HEALTH.path,
    appHealthProbeInterval: APP_HEALTH.intervalS,
    appHealthProbeTimeout: APP_HEALTH.timeoutMs,
    appHealthThreshold: APP_HEALTH.threshold
  }
}

/**
 * Where a run file's apps disagree with the roster (dapr.yaml's are the `lab` run's): an
 * app it does not know, another folder, entry or port, or the health check of a subscriber
 * missing; an app of the run missing. Empty when they agree.
 */
export function rosterProblems (file: RunFile, run: RunKind = 'lab'): string[] {
  const problems: string[] = []
  for (const app of file.apps) {
    const known = ROSTER.find((a) => a.appID === app.appID)
    if (!known) { problems.push(`app ${app.appID} is not one of the lab's (lab/roster.ts)`); continue }
    const dir = (app.appDirPath ?? '.').replace(/^\.\//, '').replace(/\/$/, '')
    if (dir !== known.dir) problems.push(`${app.appID}: appDirPath ${app.appDirPath ?? '.'}, the roster says ./${known.dir}/`)
    if (app.command?.at(-1) !== known.entry) problems.push(`${app.appID}: command ${JSON.stringify(app.command)}, the roster's entry is ${known.entry}`)
    if (app.appPort !== known.port) problems.push(`${app.appID}: appPort ${app.appPort ?? 'none'}, the roster says ${known.port ?? 'none'}`)
  }
  for (const app of appsOf(run)) if (!file.apps.some((a) => a.appID === app.appID)) problems.push(`${app.appID} is missing`)
  return problems
}
