// `npm run stop`: stops what an earlier run left behind, whichever runner ran it: the run
// (its `npm start` is asked to stop it, as Ctrl+C would), or, when that process is gone,
// every process of the run it wrote down; then `dapr stop` where the Dapr CLI is, and the
// servers that run started (but one another run uses: lab/run/servers.ts). With no run
// written down, every server the project started (never one it found running). With
// LAB_RUN, that named run only (lab/run/place.ts).
import { rmSync } from 'node:fs'
import { execa } from 'execa'
import { poll } from '../poll.ts'
import { chooseRunner } from '../plan.ts'
import { isAlive, listProcesses, signal } from '../processes.ts'
import { isLabProcess, runState } from '../run/supervise.ts'
import { runName, runStateFile } from '../run/place.ts'
import { releaseServers } from '../run/servers.ts'
import { services } from '../brokers.ts'
import { REPO, STOP_GRACE_MS, say } from '../settings.ts'

export async function stop (): Promise<number> {
  // A named run (LAB_RUN) is stopped alone: others may be going on beside it.
  const name = runName()
  const named = name !== undefined
  const run = runState()
  if (run && isAlive(run.pid)) {
    say(`stopping the run of npm start (pid ${run.pid})`)
    signal(run.pid, 'SIGTERM')
    if (!await poll('npm start to stop', () => !isAlive(run.pid), 2 * STOP_GRACE_MS + 30_000)) signal(run.pid, 'SIGKILL')
  }
  const runner = chooseRunner()
  if (runner.kind === 'cli' && (run || !named)) {
    await execa(runner.dapr, ['stop', '-f', run?.runFile ?? REPO], { reject: false, cwd: REPO })
  }
  // Whatever is left: what the run wrote down (if the same command still runs under that
  // pid), and whatever has this project's runner or files in its command line.
  const left = (await listProcesses()).filter((p) => p.pid !== process.pid && isLabProcess(p, run, name))
  for (const p of left) {
    say(`stopping ${p.cmd.slice(0, 100)} (pid ${p.pid})`)
    signal(p.pid, 'SIGTERM')
  }
  if (!await poll('the run\'s processes to stop', () => left.every((p) => !isAlive(p.pid)), STOP_GRACE_MS)) for (const p of left) signal(p.pid, 'SIGKILL')
  rmSync(runStateFile(), { force: true })
  // The servers of a run whose npm start is gone (one that ended released its own),
  // handing over what another run uses; with no run written down, every server the
  // project started.
  await releaseServers(name)
  if (!run && !named) for (const service of services) await service.down()
  say('stopped')
  return 0
}
