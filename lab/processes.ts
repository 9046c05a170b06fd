// Processes, the way the lab tool sees them on Linux, macOS and Windows: listed with
// ps-list (pid, parent, command line), never read out of /proc by hand.
import { accessSync, constants, statSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import psList from 'ps-list'

export interface Proc { pid: number, ppid: number, name: string, cmd: string }

export async function listProcesses (): Promise<Proc[]> {
  // A zombie (`<defunct>`) has exited already; only its parent has not reaped it yet.
  return (await psList()).filter((p) => !(p.cmd ?? '').endsWith('<defunct>'))
    .map((p) => ({ pid: p.pid, ppid: p.ppid, name: p.name, cmd: p.cmd ?? p.name }))
}

/** Whether a process with this pid exists (EPERM: it does, it is somebody else's). */
export function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Signals a process, quietly when it has gone meanwhile. */
export function signal (pid: number, name: NodeJS.Signals): void {
  try { process.kill(pid, name) } catch { /* gone */ }
}

/** Every descendant of `root` in `procs` (children, their children, ...). */
export function descendantsOf (root: number, procs: Proc[]): Proc[] {
  const found: Proc[] = []
  const parents = new Set([root])
  for (let grew = true; grew;) {
    grew = false
    for (const p of procs) {
      if (parents.has(p.ppid) && !parents.has(p.pid)) {
        parents.add(p.pid)
        found.push(p)
        grew = true
      }
    }
  }
  return found
}

/**
 * Remembers every process that was ever a descendant of `root` while it watched: a
 * process whose parent dies is re-parented and leaves the tree, but it is still the
 * run's, and still has to be gone before the run counts as stopped.
 */
export class ProcessWatch {
  private readonly seen = new Map<number, Proc>()
  private timer?: NodeJS.Timeout
  private looking?: Promise<void>

  constructor (readonly root: number) {}

  /** Looks at the process table now. */
  async look (): Promise<void> {
    this.looking ??= listProcesses().then((procs) => {
      const byPid = new Map(procs.map((p) => [p.pid, p]))
      for (const p of descendantsOf(this.root, procs)) this.seen.set(p.pid, p)
      // A pid that is gone, or reused by another command, is no longer the run's.
      for (const [pid, p] of this.seen) if (byPid.get(pid)?.cmd !== p.cmd) this.seen.delete(pid)
    }).finally(() => { this.looking = undefined })
    await this.looking
  }

  /** Looks every `ms` until stopped (the first look at once). */
  start (ms = 1000): this {
    void this.look().catch(() => {})
    this.timer = setInterval(() => { void this.look().catch(() => {}) }, ms)
    this.timer.unref()
    return this
  }

  stop (): void { clearInterval(this.timer) }

  /** The run's processes that are still there, as last seen. */
  alive (): Proc[] {
    return [...this.seen.values()].filter((p) => isAlive(p.pid))
  }
}

/** Whether `file` is a file this process may execute. */
export function isExecutable (file: string): boolean {
  try {
    accessSync(file, constants.X_OK)
    return statSync(file).isFile()
  } catch {
    return false
  }
}

/** An executable on PATH, else in one of `extraDirs` (Debian keeps some servers in /usr/sbin), found without a shell. */
export function onPath (name: string, extraDirs: string[] = [], path = process.env.PATH): string | undefined {
  const suffixes = process.platform === 'win32' ? ['', ...(process.env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';')] : ['']
  for (const dir of [...(path ?? '').split(delimiter).filter(Boolean), ...extraDirs]) {
    for (const suffix of suffixes) {
      const file = join(dir, name + suffix)
      if (isExecutable(file)) return file
    }
  }
  return undefined
}

/** A flag's value in a command line as ps-list gives it (`--flag value`; daprd's values hold no spaces). */
export function flagOf (cmd: string, name: string): string | undefined {
  const words = cmd.split(/\s+/)
  const at = words.indexOf(name)
  return at === -1 ? undefined : words[at + 1]
}
