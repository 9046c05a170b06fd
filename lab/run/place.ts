// Where a run's files live. Runs that go on side by side (the end-to-end tests do) are
// named by LAB_RUN: each has its own folder, .dapr/named-runs/<name>/, with its run file,
// resources, state file and a folder for each of its apps to run in, where both runners
// write the app's logs; and its apps get ports of their own (lab/plan.ts). An unnamed run
// (`npm start`) keeps the usual places.
import { basename, join } from 'node:path'
import { LAB_STATE, LabError, REPO } from '../settings.ts'

const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/

/** The name of this run (LAB_RUN), if it has one. */
export function runName (env: NodeJS.ProcessEnv = process.env): string | undefined {
  const name = env.LAB_RUN || undefined
  if (name !== undefined && !NAME.test(name)) throw new LabError(`LAB_RUN names a run: lower-case letters, digits and dashes, not "${name}".`)
  return name
}

export const NAMED_RUNS = join(LAB_STATE, 'named-runs')
export const namedRunFolder = (name: string): string => join(NAMED_RUNS, name)

/** What `npm run stop`, the doctor and lab:crash read of the run going on (lab/run/supervise.ts writes it). */
export const runStateFile = (name = runName()): string => name ? join(namedRunFolder(name), 'lab-run.json') : join(LAB_STATE, 'lab-run.json')

/** Where each run keeps the record of the servers it uses and is to stop (lab/run/servers.ts): one folder for all runs, which they read. */
export const SERVERS_RECORDS = join(LAB_STATE, 'servers')
const UNNAMED = '_npm-start'
/** The record of run `name`; undefined is the unnamed run (said outright: a default of the run going on would read another run's record as one's own). */
export const runServersFile = (name: string | undefined): string => join(SERVERS_RECORDS, `${name ?? UNNAMED}.json`)
/** The run a record is of (undefined: the unnamed one). */
export const runOfServersFile = (file: string): string | undefined => file === `${UNNAMED}.json` ? undefined : file.replace(/\.json$/, '')

/**
 * The folder an app (its folder `dir`, relative to the repository) runs in: its own, or in a
 * named run, `apps/<folder>` in the run's folder. Both runners write its logs under it
 * (`.dapr/logs`, where the Dapr CLI puts them), so runs side by side never share a log folder.
 */
export const runAppDir = (dir: string, name = runName()): string => name ? join(namedRunFolder(name), 'apps', basename(join(REPO, dir))) : join(REPO, dir)
