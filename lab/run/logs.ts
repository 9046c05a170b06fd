// Where a run's log files are: `<appDir>/.dapr/logs/<name>_<app|daprd>_<time>.log`, as the
// Dapr CLI writes them, and the project's runner and lab:crash too; `appDir` is the folder
// the app runs in, which a named run has of its own (place.ts, runAppDir).
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { runAppDir, runName } from './place.ts'

/** Where the logs of an app that runs in `appDir` go. */
export const logDir = (appDir: string): string => join(appDir, '.dapr', 'logs')

/** A new log file's name: `name` is the app id, or `<id>-<n>` for instance n > 1 of --instances. */
export const logFile = (appDir: string, name: string, kind: 'app' | 'daprd', stamp = timestamp()): string =>
  join(logDir(appDir), `${name}_${kind}_${stamp}.log`)

/** Local time, YYYYMMDDhhmmss, as the Dapr CLI names its log files. */
export function timestamp (at = new Date()): string {
  const two = (n: number) => String(n).padStart(2, '0')
  return `${at.getFullYear()}${two(at.getMonth() + 1)}${two(at.getDate())}${two(at.getHours())}${two(at.getMinutes())}${two(at.getSeconds())}`
}

/**
 * When a log's app started, from the time in its name (not its mtime: a runner may still
 * write to the file of an app that has died).
 */
export function startedAt (file: string): number {
  const [, y, mo, d, h, mi, sec] = /_(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)\.log$/.exec(file) ?? []
  return y === undefined ? 0 : new Date(+y, +mo! - 1, +d!, +h!, +mi!, +sec!).getTime()
}

/** The log files of an app (its folder `dir`, relative to the repository) in run `run` (LAB_RUN's, or the unnamed one), newest first. */
export function logsNewestFirst (dir: string, name: string, kind: 'app' | 'daprd', run = runName()): string[] {
  const logs = logDir(runAppDir(dir, run))
  if (!existsSync(logs)) return []
  const files = readdirSync(logs).filter((f) => f.startsWith(`${name}_${kind}_`)).map((f) => join(logs, f))
  return files.sort((a, b) => startedAt(b) - startedAt(a) || statSync(b).mtimeMs - statSync(a).mtimeMs)
}

/** The newest log file of an app (of the named run `run`, when given). */
export const newestLog = (dir: string, name: string, kind: 'app' | 'daprd', run = runName()): string | undefined => logsNewestFirst(dir, name, kind, run)[0]

/**
 * The log files of the last run among those of `dir` whose names match: the newest one,
 * and the others started within 30 s of it (the time in a log's name is its start).
 */
export function recentLogs (dir: string, name: RegExp): string[] {
  const logs = logDir(runAppDir(dir))
  if (!existsSync(logs)) return []
  const files = readdirSync(logs).filter((f) => name.test(f)).map((f) => ({ file: join(logs, f), at: startedAt(f) }))
  const newest = Math.max(...files.map((f) => f.at))
  return files.filter((f) => newest - f.at <= 30_000).map((f) => f.file)
}
