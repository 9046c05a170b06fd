// Where a run's log files are: `<appDir>/.dapr/logs/<name>_<app|daprd>_<time>.log`, as the
// Dapr CLI writes them, and the project's runner too.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { REPO } from '../settings.ts'

export const logDir = (appDir: string): string => join(appDir, '.dapr', 'logs')

/** A new log file's name: `name` is the app id, or `<id>-<n>` for instance n > 1 of --instances. */
export const logFile = (appDir: string, name: string, kind: 'app' | 'daprd', stamp = timestamp()): string =>
  join(logDir(appDir), `${name}_${kind}_${stamp}.log`)

export function timestamp (): string {
  return new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)
}

/** The newest log file of an app (`dir` relative to the repository, or absolute). */
export function newestLog (dir: string, name: string, kind: 'app' | 'daprd'): string | undefined {
  const logs = logDir(join(REPO, dir))
  if (!existsSync(logs)) return undefined
  const files = readdirSync(logs).filter((f) => f.startsWith(`${name}_${kind}_`)).map((f) => join(logs, f))
  return files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0]
}
