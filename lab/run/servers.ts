// The servers runs use (a broker, the state store's Redis, Zipkin) are the machine's, shared
// by every run going on. A run takes the ones it needs as it starts: it uses one that
// answers, else starts it. When it ends it stops the ones it started, but not one that
// another run going on uses: that run takes it over and stops it when it ends. So the last
// run out stops a server, and a run never pulls one from under another (two `--tracing`
// runs side by side share one Zipkin).
//
// Each run keeps a record of its servers (place.ts, SERVERS_RECORDS): its pid, the servers
// it uses and those it is to stop. Taking servers, handing them over and stopping them happen
// under one lock, so two runs never both start a server, and a server is never stopped
// while a run that starts takes it. Runs of another checkout of the project (each keeps its
// records in its own .dapr/) do not see each other.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { handedOverLine } from '../../shared/log-lines.ts'
import { serviceNamed } from '../brokers.ts'
import { until } from '../poll.ts'
import { isAlive } from '../processes.ts'
import { say } from '../settings.ts'
import { SERVERS_RECORDS, runOfServersFile, runServersFile } from './place.ts'

/** A run's servers: those it uses, and those it is to stop when it ends (it started them, or was handed them). */
interface ServersRecord { pid: number, uses: string[], stops: string[] }

const LOCK = join(SERVERS_RECORDS, 'lock')

/**
 * Runs `fn` holding this checkout's servers lock: a folder with its holder's pid inside,
 * made by one rename and let go by one (rename is atomic; a lock is never half there).
 */
async function locked<T> (fn: () => Promise<T>): Promise<T> {
  mkdirSync(SERVERS_RECORDS, { recursive: true })
  const letGo = (dir: string) => {
    const gone = `${dir}-gone-${process.pid}-${Date.now()}`
    try { renameSync(dir, gone) } catch { return }
    rmSync(gone, { recursive: true, force: true })
  }
  // Long enough for another run to start or stop a slow server (Kafka, RabbitMQ) meanwhile.
  await until('the other runs starting or stopping servers', () => {
    const mine = mkdtempSync(join(SERVERS_RECORDS, 'lock-'))
    writeFileSync(join(mine, 'pid'), String(process.pid))
    try {
      renameSync(mine, LOCK)
      return true
    } catch {
      rmSync(mine, { recursive: true, force: true })
      // A holder killed while holding it leaves it behind.
      let holder = 0
      try { holder = Number(readFileSync(join(LOCK, 'pid'), 'utf8')) } catch { /* let go meanwhile */ }
      if (holder > 0 && !isAlive(holder)) letGo(LOCK)
      return false
    }
  }, 300_000, { every: 50, progress: say })
  try {
    return await fn()
  } finally {
    letGo(LOCK)
  }
}

const recordOf = (name: string | undefined): ServersRecord | undefined => {
  try { return JSON.parse(readFileSync(runServersFile(name), 'utf8')) as ServersRecord } catch { return undefined }
}
const save = (name: string | undefined, record: ServersRecord) => writeFileSync(runServersFile(name), JSON.stringify(record))

/**
 * A run starts: for each server it needs (in order), `announce`, then use the one that
 * answers or start it, and write it down, unless `interrupted` (Ctrl+C meanwhile). Called
 * again by the same process, it adds to what that took (`npm test`, a server at a time); a
 * run of the name of one that was killed takes over what that one was to stop.
 * Throws what a server's start throws (a LabError that says what to do).
 */
export async function takeServers (needs: string[], name: string | undefined, announce: (server: string) => void = () => {}, interrupted: () => boolean = () => false): Promise<void> {
  await locked(async () => {
    // What this process took before, or what a run of this name that was killed was to stop.
    const earlier = recordOf(name)
    const record: ServersRecord = earlier && (earlier.pid === process.pid || !isAlive(earlier.pid))
      ? { pid: process.pid, uses: [...new Set([...(earlier.pid === process.pid ? earlier.uses : []), ...needs])], stops: earlier.stops }
      : { pid: process.pid, uses: needs, stops: [] }
    save(name, record)
    for (const server of needs) {
      if (interrupted()) return
      announce(server)
      if ((await serviceNamed(server).up()).started) {
        record.stops.push(server)
        save(name, record)
      }
    }
  })
}

/**
 * A run ends (or `npm run stop` cleans up after one whose npm start is gone): of the servers
 * it is to stop, hands each that another run going on uses over to that run, and stops the
 * others, last started first.
 */
export async function releaseServers (name: string | undefined): Promise<void> {
  await locked(async () => {
    const record = recordOf(name)
    rmSync(runServersFile(name), { force: true })
    if (!record) return
    const others = readdirSync(SERVERS_RECORDS).filter((f) => f.endsWith('.json')).map(runOfServersFile)
      .filter((other) => other !== name)
      .flatMap((other) => { const r = recordOf(other); return r && isAlive(r.pid) ? [{ name: other, record: r }] : [] })
    for (const server of [...record.stops].reverse()) {
      const service = serviceNamed(server)
      const heir = others.find((run) => run.record.uses.includes(server))
      if (heir) {
        heir.record.stops.push(server)
        save(heir.name, heir.record)
        say(handedOverLine(service.label, heir.name === undefined ? 'the run of npm start' : `run ${heir.name}`, heir.record.pid))
      } else {
        await service.down().catch((err: Error) => say(`could not stop ${service.label}: ${err.message}`))
      }
    }
  })
}

/** The servers of runs whose npm start was killed without `npm run stop` after it: released as those runs would have. */
export async function releaseOrphans (): Promise<void> {
  let files: string[] = []
  try { files = readdirSync(SERVERS_RECORDS).filter((f) => f.endsWith('.json')) } catch { return }
  for (const name of files.map(runOfServersFile)) {
    const record = recordOf(name)
    if (record && !isAlive(record.pid)) await releaseServers(name)
  }
}
