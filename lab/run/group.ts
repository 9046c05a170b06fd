// A run of a command that starts others: `npm start` running the runner (or the Dapr CLI),
// the tests running `npm start`, the bench running the runner, lab:crash running the app
// again. It is started in a process group of its own, every process it ever had is watched
// (ProcessWatch: one whose parent died is still its), its output is kept a line at a time,
// and it is stopped the same way everywhere: a signal, then a wait until nothing of it is
// left, and SIGKILL for what outlives the grace period.
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { poll, until } from '../poll.ts'
import { ProcessWatch, signal, type Proc } from '../processes.ts'
import { STOP_GRACE_MS } from '../settings.ts'

export interface GroupOptions {
  cwd?: string
  env?: NodeJS.ProcessEnv
  /**
   * A process group of its own (the default), so that a signal reaches all of it. The Dapr
   * CLI makes a group of its own when it starts: it is started without, and signalled alone.
   */
  group?: boolean
  /** Each line of its output (stdout and stderr), as it comes. */
  onLine?: (line: string) => void
  /** How many of the last lines to keep in `lines` (all by default). */
  keep?: number
  /** How often the process table is looked at, in ms. */
  watchEvery?: number
  /**
   * Where its output goes when it is not read here (a benchmark's servers: reading them
   * would cost the bench's own CPU): 'ignore' drops its stdout; a file gets both streams.
   */
  output?: 'ignore-stdout' | { file: string }
}

export class ProcessGroup {
  /** Its output, stdout and stderr interleaved as they came; and each apart. */
  readonly lines: string[] = []
  readonly stdout: string[] = []
  readonly stderr: string[] = []
  readonly child: ChildProcess
  readonly watch: ProcessWatch
  /** Its exit code (null: killed by a signal); undefined while it runs. */
  exitCode: number | null | undefined
  /** Resolves with the exit code once the command itself has exited (its processes may live on). */
  readonly exited: Promise<number | null>
  /** Resolves once all of its output has been read (after `exited`). */
  readonly closed: Promise<void>
  /** Why it could not be started at all, if so. */
  startError?: Error
  private readonly grouped: boolean

  constructor (readonly command: string, readonly args: string[], options: GroupOptions = {}) {
    this.grouped = options.group ?? true
    // Through pipes held open to the end: the Dapr CLI dies (and orphans its sidecars) if
    // its stdout is closed when it prints its shutdown lines.
    const file = typeof options.output === 'object' ? openSync(options.output.file, 'a') : undefined
    const stdio = file !== undefined ? ['ignore', file, file] as const : ['ignore', options.output === 'ignore-stdout' ? 'ignore' : 'pipe', 'pipe'] as const
    this.child = spawn(command, args, { cwd: options.cwd, env: options.env, detached: this.grouped, stdio: [...stdio] })
    if (file !== undefined) closeSync(file)
    const streams = [[this.child.stdout, this.stdout], [this.child.stderr, this.stderr]] as const
    const reading = streams.filter(([stream]) => stream !== null).map(([stream, apart]) => {
      const lines = createInterface({ input: stream!, crlfDelay: Infinity })
      lines.on('line', (line) => {
        for (const kept of [this.lines, apart]) {
          kept.push(line)
          if (options.keep !== undefined && kept.length > options.keep) kept.shift()
        }
        options.onLine?.(line)
      })
      return new Promise<void>((resolve) => lines.once('close', resolve))
    })
    this.closed = Promise.all(reading).then(() => {})
    this.watch = new ProcessWatch(this.child.pid ?? -1).start(options.watchEvery)
    this.exited = new Promise((resolve) => {
      this.child.once('error', (err) => { this.startError = err; this.exitCode ??= 127; resolve(127) })
      this.child.once('exit', (code, sig) => { this.exitCode = code ?? (sig ? null : 1); resolve(this.exitCode) })
    })
  }

  get pid (): number | undefined { return this.child.pid }

  get output (): string { return this.lines.join('\n') }

  /** Every process of it still there: the command itself until it exits, and all it started. */
  async processes (): Promise<Proc[]> {
    await this.watch.look().catch(() => {})
    const own: Proc[] = this.exitCode === undefined && this.pid !== undefined ? [{ pid: this.pid, ppid: process.pid, name: this.command, cmd: [this.command, ...this.args].join(' ') }] : []
    return [...own, ...this.watch.alive()]
  }

  /** The one process of it whose command line contains every one of `parts`. */
  async find (...parts: string[]): Promise<Proc> {
    await this.watch.look()
    // Not the shells that started it (`sh -c ...` holds the same words).
    const matches = this.watch.alive().filter((p) => !/^(sh|dash|bash)$/.test(p.name) && parts.every((part) => p.cmd.includes(part)))
    if (matches.length !== 1) throw new Error(`expected one process with ${parts.join(' ')}, found: ${JSON.stringify(matches)}`)
    return matches[0]!
  }

  /** Sends `name` to the whole group (to the command alone when it has no group of its own). */
  signal (name: NodeJS.Signals): void {
    if (this.pid === undefined) return
    signal(this.grouped && process.platform !== 'win32' ? -this.pid : this.pid, name)
  }

  /** Polls until `done`; fails with its output if the deadline passes, or if it ends first. */
  async until (what: string, done: () => boolean | Promise<boolean>, ms: number): Promise<void> {
    await until(what, async () => await done() || this.exitCode !== undefined, ms)
      .catch((err: Error) => { throw new Error(`${err.message}\n--- output ---\n${this.output}`) })
    if (!await done()) throw new Error(`it ended before ${what} (exit code ${this.exitCode})\n--- output ---\n${this.output}`)
  }

  /**
   * Waits until the command has exited and every process of it has gone, for at most
   * `graceMs`; then kills what is left, and answers it (nothing, when all went well).
   * `spare`: processes of it that may outlive it (asked once it has exited).
   */
  async settle (graceMs = STOP_GRACE_MS, spare: (p: Proc) => boolean = () => false): Promise<Proc[]> {
    const left = async () => this.exitCode === undefined ? await this.processes() : (await this.processes()).filter((p) => !spare(p))
    await poll('every process of the run to exit', async () => this.exitCode !== undefined && (await left()).length === 0, graceMs)
    const killed = await left()
    for (const p of killed) signal(p.pid, 'SIGKILL')
    this.watch.stop()
    return killed
  }

  /** `signal` (pressed `presses` times, as impatient people do), then settle: what had to be killed. */
  async stop ({ signal: name = 'SIGTERM', presses = 1, graceMs = STOP_GRACE_MS, spare }: { signal?: NodeJS.Signals, presses?: number, graceMs?: number, spare?: (p: Proc) => boolean } = {}): Promise<Proc[]> {
    for (let i = 0; i < presses; i++) this.signal(name)
    return await this.settle(graceMs, spare)
  }
}
