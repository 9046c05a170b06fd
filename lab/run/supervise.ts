// Runs a plan's run file with its runner, `dapr run -f` or the project's runner, and
// supervises it: its output goes on to ours, Ctrl+C is passed on to it, and the run counts
// as stopped only once every process it started has exited.
//
// Why passing Ctrl+C on is needed: `dapr run -f` moves itself into a process group of its
// own when it starts (setpgid(0, 0) in dapr/cli's cmd/run.go), and the project's runner is
// started in one (so the apps can be stopped before their sidecars). The terminal's SIGINT
// reaches npm and this process only; without this, Ctrl+C on `npm start` stopped nothing.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { CONFIG_VARIABLES } from '../../shared/config.ts'
import type { Plan } from '../plan.ts'
import { signal, type Proc } from '../processes.ts'
import { ProcessGroup } from './group.ts'
import { REPO, STOP_GRACE_MS, say } from '../settings.ts'
import { namedRunFolder, runName, runStateFile } from './place.ts'

/** The project's runner, which stands in for `dapr run -f` where there is no Dapr CLI. */
export const RUNNER = join(REPO, 'lab', 'run', 'multi-app-run.ts')

/**
 * Whether a process is a lab run's (what `npm run stop` stops, what the doctor lists): one
 * its `npm start` wrote down, the project's runner, or a sidecar started with this
 * project's files (not a copy of it elsewhere); of a named run, those started with its
 * folder's files.
 */
export function isLabProcess (p: Proc, run: RunState | undefined, name = runName()): boolean {
  if (run?.processes.some((q) => q.pid === p.pid && q.cmd === p.cmd)) return true
  const mark = name === undefined ? REPO : namedRunFolder(name)
  const withFiles = p.cmd.includes(`${mark}/`) || p.cmd.endsWith(mark)
  return (p.cmd.includes(RUNNER) && (name === undefined || withFiles)) || (/daprd/.test(p.name) && withFiles)
}

/** What `npm run stop` and the doctor need to know of a run that is going on. */
export interface RunState {
  /** This process (`npm start`'s). */
  pid: number
  runner: Plan['runner']['kind']
  runnerPid: number
  runFile: string
  topic: string
  /** The apps' settings this run was started with (shared/config.ts's variables), so an app can be restarted as it was. */
  env: Record<string, string>
  /** Every process of the run seen so far, so that one left behind can be found by pid. */
  processes: Proc[]
}

/** Presses closer together than this are one Ctrl+C: the terminal and npm both deliver it. */
const SAME_PRESS_MS = 500

export interface Supervision {
  /** The run's exit code once every process of it has gone. */
  done: Promise<number>
  /** Ctrl+C: the first asks the runner to stop the run, the next forces what is left. */
  interrupt (): void
}

export function supervise (plan: Plan, runtimeRoot: string): Supervision {
  const [command, args] = plan.runner.kind === 'cli'
    ? [plan.runner.dapr, ['run', '-f', plan.runFile]]
    : [process.execPath, ['--import', 'tsx', RUNNER, plan.runFile]]
  if (plan.runner.kind === 'cli') say(`running: dapr run -f ${plan.runFile.replace(`${REPO}/`, '')}`)
  else say(`${process.env.LAB_RUNNER === 'project' ? 'LAB_RUNNER=project' : 'Dapr CLI not found'}: running ${plan.runFile.replace(`${REPO}/`, '')} with the project's runner (lab/run/multi-app-run.ts: same sidecars, same file)`)
  const run = new ProcessGroup(command, args, {
    cwd: REPO,
    // The CLI finds the runtime under $DAPR_RUNTIME_PATH/.dapr, as the project's runner does.
    env: { ...process.env, ...plan.sidecarEnv, DAPR_RUNTIME_PATH: runtimeRoot },
    // The CLI makes a group of its own; the project's runner is given one.
    group: plan.runner.kind === 'project',
    onLine: (line) => { process.stdout.write(`${line}\n`) },
    keep: 200
  })
  const appSettings = Object.fromEntries(CONFIG_VARIABLES.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]!]))
  const stateFile = runStateFile()
  const saveState = () => {
    const state: RunState = { pid: process.pid, runner: plan.runner.kind, runnerPid: run.pid!, runFile: plan.runFile, topic: plan.topic, env: appSettings, processes: run.watch.alive() }
    try { mkdirSync(dirname(stateFile), { recursive: true }); writeFileSync(stateFile, JSON.stringify(state, null, 2)) } catch { /* only a help for npm run stop */ }
  }
  saveState()
  const saving = setInterval(saveState, 2000)

  let firstPress = 0
  let forced = false
  const force = () => {
    forced = true
    say('forcing the run to stop: killing what is left of it')
    void run.processes().then((left) => { for (const p of left) signal(p.pid, 'SIGKILL') })
  }
  const interrupt = () => {
    const now = Date.now()
    if (firstPress === 0) {
      firstPress = now
      say('stopping the run (Ctrl+C again to force)...')
      run.signal('SIGINT')
    } else if (now - firstPress > SAME_PRESS_MS && !forced) {
      force()
    }
  }

  const done = (async () => {
    const code = await run.exited
    if (run.startError) say(`cannot start ${command}: ${run.startError.message}`)
    // The runner is gone; its apps and sidecars must be too before the run counts as stopped.
    const left = await run.settle(STOP_GRACE_MS)
    if (left.length > 0) say(`${left.length} process(es) of the run outlived it: killed ${left.map((p) => `${p.pid} (${p.cmd.slice(0, 60)})`).join(', ')}`)
    clearInterval(saving)
    rmSync(stateFile, { force: true })
    return forced ? 130 : code ?? 128
  })()
  return { done, interrupt }
}

/** The run going on (this LAB_RUN's, or the unnamed one), as its `npm start` last wrote it down, if there is one. */
export function runState (file = runStateFile()): RunState | undefined {
  if (!existsSync(file)) return undefined
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as RunState
  } catch {
    return undefined
  }
}
