// The servers runs use (a broker, the state store's Redis, Zipkin) are the machine's, shared
// by every run going on: a run uses one that answers, else starts it (lab/commands/start.ts).
// When it ends it stops the ones it started, but not one that another run going on uses:
// that run takes it over and stops it when it ends. So the last run out stops a server, and
// a run never pulls one from under another (two `--tracing` runs side by side share Zipkin).
//
// Handing over and taking over happen under one lock, so a server is never handed to a run
// that has already looked for what was handed to it. What is not covered: a run that is
// still starting its servers is not yet a run going on, and may find a server answering
// that an ending run is about to stop; and runs of another checkout of the project (each
// checkout keeps its runs in its own .dapr/) do not see each other.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { handedOverLine } from '../../shared/log-lines.ts'
import { serviceNamed } from '../brokers.ts'
import { until } from '../poll.ts'
import { isAlive } from '../processes.ts'
import { LAB_STATE, say } from '../settings.ts'
import { NAMED_RUNS, runHandoverFile, runStateFile } from './place.ts'
import { runState, type RunState } from './supervise.ts'

const LOCK = join(LAB_STATE, 'servers.lock')

/**
 * Runs `fn` holding this checkout's servers lock: a folder with its holder's pid inside,
 * made by one rename and let go by one (rename is atomic; a lock is never half there).
 */
async function locked<T> (fn: () => T): Promise<T> {
  mkdirSync(LAB_STATE, { recursive: true })
  const letGo = (dir: string) => {
    const gone = `${dir}-gone-${process.pid}-${Date.now()}`
    try { renameSync(dir, gone) } catch { return }
    rmSync(gone, { recursive: true, force: true })
  }
  await until('the lab\'s servers lock', () => {
    const mine = mkdtempSync(join(LAB_STATE, 'servers.lock-'))
    writeFileSync(join(mine, 'pid'), String(process.pid))
    try {
      renameSync(mine, LOCK)
      return true
    } catch {
      rmSync(mine, { recursive: true, force: true })
      // A holder killed while holding it leaves it behind.
      const holder = Number(readFileSafe(join(LOCK, 'pid')))
      if (holder > 0 && !isAlive(holder)) letGo(LOCK)
      return false
    }
  }, 60_000, { every: 50 })
  try {
    return fn()
  } finally {
    letGo(LOCK)
  }
}

function readFileSafe (file: string): string {
  try { return readFileSync(file, 'utf8') } catch { return '' }
}

/** The runs going on but this one: the unnamed run and the named ones, each with its state. */
function otherRuns (): Array<{ name: string | undefined, state: RunState }> {
  const names = [undefined, ...(existsSync(NAMED_RUNS) ? readdirSync(NAMED_RUNS) : [])]
  return names.flatMap((name) => {
    const state = runState(runStateFile(name))
    return state && state.pid !== process.pid && isAlive(state.pid) ? [{ name, state }] : []
  })
}

function handedTo (name: string | undefined): string[] {
  try { return JSON.parse(readFileSync(runHandoverFile(name), 'utf8')) as string[] } catch { return [] }
}

/**
 * A run ends: of the servers it started (and those handed over to it), hands each that
 * another run going on uses to that run, and stops the others. Its state file goes at the
 * same moment, so no server can be handed to it any more.
 */
export async function releaseServers (started: string[], name: string | undefined): Promise<void> {
  const toStop = await locked(() => {
    const mine = [...new Set([...started, ...handedTo(name)])]
    rmSync(runHandoverFile(name), { force: true })
    rmSync(runStateFile(name), { force: true })
    const runs = otherRuns()
    return mine.filter((server) => {
      const heir = runs.find((run) => run.state.uses?.includes(server))
      if (!heir) return true
      writeFileSync(runHandoverFile(heir.name), JSON.stringify([...new Set([...handedTo(heir.name), server])]))
      say(handedOverLine(serviceNamed(server).label, heir.name === undefined ? 'the run of npm start' : `run ${heir.name}`, heir.state.pid))
      return false
    })
  })
  for (const server of toStop.reverse()) {
    const service = serviceNamed(server)
    await service.down().catch((err: Error) => say(`could not stop ${service.label}: ${err.message}`))
  }
}
