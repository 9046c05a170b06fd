// Zipkin for the lab's traces (config/tracing.yaml sends the sidecars' spans to it): the one
// on 127.0.0.1:9411 if it answers, otherwise a Zipkin server of our own, bound to loopback,
// keeping spans in memory, with its jar, log and pid file in the cache.
//
// The server is Zipkin's executable jar from Maven Central (io.zipkin:zipkin-server, classifier
// exec; no Docker here), fetched once by mvn into $CACHE/zipkin-<version>. 3.6.1 is the newest
// release there; Zipkin 3 needs Java 17 or newer.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CACHE, HOST, LabError, PORTS, say, ZIPKIN_VERSION } from '../settings.ts'
import { ownPid, requireJava17, runLogged, startDaemon, stopPidFile, upSlowly } from './daemon.ts'
import type { Service } from './service.ts'

const PORT = PORTS.zipkin
const HOME = join(CACHE, `zipkin-${ZIPKIN_VERSION}`)
const JAR = join(HOME, `zipkin-server-${ZIPKIN_VERSION}-exec.jar`)
const DIR = join(CACHE, 'zipkin')
const PID_FILE = join(DIR, 'zipkin.pid')
const LOG = join(DIR, 'zipkin.log')

export const ZIPKIN_URL = `http://${HOST}:${PORT}`

/**
 * GET /health: Zipkin answers 200 with its storage's status ("zipkin" in the body) once it
 * takes spans; anything else on the port does not count.
 */
async function ping (): Promise<boolean> {
  try {
    const response = await fetch(`${ZIPKIN_URL}/health`, { signal: AbortSignal.timeout(2000) })
    return response.status === 200 && (await response.text()).includes('"zipkin"')
  } catch {
    return false
  }
}

/** The pid of the Zipkin this project started, if it is still running. */
const zipkinPid = () => ownPid(PID_FILE, JAR)

/**
 * Fetches Zipkin's jar (once), after checking for java and mvn; throws a LabError saying
 * what is missing. `npm test` calls it early to know whether its tracing test can run.
 */
export async function installZipkin (): Promise<void> {
  await requireJava17(`Zipkin ${ZIPKIN_VERSION}`, PORT, 'a Zipkin')
  // The marker says the jar is whole: an interrupted download is fetched again.
  if (existsSync(join(HOME, '.complete'))) return
  mkdirSync(HOME, { recursive: true })
  say(`fetching Zipkin ${ZIPKIN_VERSION}'s server jar (135 MB) from Maven Central into ${HOME} (once)...`)
  rmSync(JAR, { force: true })
  const log = join(HOME, 'mvn.log')
  // Run in the cache folder, where no pom.xml is: dependency:copy needs no project.
  const fetched = await runLogged('mvn', ['-B', '-q', '-Dstyle.color=never', 'dependency:copy',
    `-Dartifact=io.zipkin:zipkin-server:${ZIPKIN_VERSION}:jar:exec`, '-DoutputDirectory=.'], { cwd: HOME, log })
  if (!fetched || !existsSync(JAR)) throw new LabError(`Maven could not fetch Zipkin ${ZIPKIN_VERSION}; see ${log}`)
  writeFileSync(join(HOME, '.complete'), '')
}

/** Installs and starts a Zipkin of our own; its pid. */
async function start (): Promise<number> {
  await installZipkin()
  mkdirSync(DIR, { recursive: true })
  say(`starting Zipkin ${ZIPKIN_VERSION} on ${ZIPKIN_URL} (spans in memory, log in ${LOG})`)
  // Zipkin 3 serves with Armeria, not Tomcat, so server.address does nothing: its port list
  // binds it, to loopback only (given whole, as Spring replaces lists). Settings go on the
  // command line, where they win over environment variables such as STORAGE_TYPE. The
  // in-memory store is capped so it fits the small heap (the default, 500000 spans, does not).
  await startDaemon({
    command: 'java',
    args: ['-Xms64m', '-Xmx256m', '-XX:+UseSerialGC', '-Djava.awt.headless=true', '-jar', JAR,
      `--armeria.ports[0].ip=${HOST}`, `--armeria.ports[0].port=${PORT}`, '--armeria.ports[0].protocols[0]=http',
      '--zipkin.storage.type=mem', '--zipkin.storage.mem.max-spans=100000'],
    log: LOG,
    freshLog: true,
    pidFile: PID_FILE
  }).catch(() => undefined)
  const pid = await zipkinPid()
  if (pid === undefined) throw new LabError(`Zipkin did not start; see ${LOG}`)
  return pid
}

async function up (): Promise<{ started: boolean }> {
  const result = await upSlowly({ label: 'Zipkin', where: ZIPKIN_URL, ping, ownPid: zipkinPid, start, down, log: LOG, exitHint: `is port ${PORT} taken?` })
  say(`traces in Zipkin's UI: ${ZIPKIN_URL}/zipkin/`)
  return result
}

/** Stops the Zipkin this project started (never someone else's). */
function down (): Promise<void> {
  return stopPidFile('Zipkin', PID_FILE, JAR)
}

export const zipkin: Service = { name: 'zipkin', label: 'Zipkin', port: PORT, marker: JAR, ping, up, down }
