// What the services share: starting a server in the background, stopping the one a pid file
// names (only if it is still ours), waiting, and talking to a port in a server's protocol.
import { spawn } from 'node:child_process'
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createConnection } from 'node:net'
import { execa } from 'execa'
import { HOST, LabError, say } from '../settings.ts'
import { isAlive, listProcesses, onPath } from '../processes.ts'
import { poll } from '../poll.ts'

/** Polls every 200 ms, saying every 10 s that it still waits: for the servers' starts and stops. */
export const waitFor = (what: string, check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> => poll(what, check, ms, { every: 200, progress: say })

export interface DaemonOptions {
  command: string
  args: string[]
  /** stdout and stderr go here, appended (truncated first with `freshLog`). */
  log: string
  /** Written with the daemon's pid once it runs. */
  pidFile: string
  freshLog?: boolean
  cwd?: string
  /** Added to this process's environment. */
  env?: Record<string, string>
}

/**
 * Starts a server that has no daemon mode of its own in the background, and resolves its
 * pid. In a session of its own (detached), so that a Ctrl+C in the terminal does not kill it
 * half-way (its service's down() stops it), and unref'd, so that this process may exit
 * before it. It is spawned directly (no shell), so the pid written is the server's own.
 */
export async function startDaemon (options: DaemonOptions): Promise<number> {
  rmSync(options.pidFile, { force: true })
  const log = openSync(options.log, options.freshLog ? 'w' : 'a')
  try {
    const child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      detached: true,
      stdio: ['ignore', log, log],
      windowsHide: true
    })
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve)
      child.once('error', reject)
    })
    child.unref()
    writeFileSync(options.pidFile, `${child.pid}\n`)
    return child.pid!
  } finally {
    closeSync(log)
  }
}

/**
 * Runs a command to its end with stdout and stderr in `log` (truncated first unless `append`);
 * whether it succeeded. The file itself, not a pipe, is handed over: a server that daemonizes
 * (mosquitto -d) keeps it, and a pipe would keep this waiting for it.
 */
export async function runLogged (command: string, args: string[], options: { log: string, cwd?: string, append?: boolean }): Promise<boolean> {
  const log = openSync(options.log, options.append ? 'a' : 'w')
  try {
    const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', log, log], windowsHide: true })
    return await new Promise<boolean>((resolve) => {
      child.once('error', () => resolve(false))
      child.once('exit', (code) => resolve(code === 0))
    })
  } finally {
    closeSync(log)
  }
}

/**
 * For the servers that run on a JVM (Kafka, Zipkin): throws a LabError saying what to install
 * unless java (17 or newer) and mvn are there. `server` is e.g. "Kafka 4.3.1", `instead` what
 * the user may start on the port instead ("a Kafka broker").
 */
export async function requireJava17 (server: string, port: number, instead: string): Promise<void> {
  const name = server.split(' ')[0]
  if (!onPath('java') || !onPath('mvn')) {
    throw new LabError(`${name} is not running on ${HOST}:${port}, and starting one needs java (17+) and mvn.
Fix: install them (Debian/Ubuntu: 'sudo apt-get install openjdk-17-jre-headless maven'; macOS: 'brew install openjdk@17 maven') or start ${instead} on port ${port}, then run this again.`)
  }
  // `java -version` writes to stderr: 'openjdk version "17.0.15" ...', or "1.8.0_x" up to Java 8.
  const { stderr } = await execa('java', ['-version'], { reject: false })
  const major = /version "(1\.)?(\d+)/.exec(stderr)?.[2]
  if (Number(major) >= 17) return
  throw new LabError(`${server} needs Java 17 or newer; 'java -version' says: ${stderr.split('\n')[0]}.
Fix: 'sudo apt-get install openjdk-17-jre-headless' (and pick it with 'sudo update-alternatives --config java'), then run this again.`)
}

/** The command line of process `pid`, or undefined when it is gone. */
async function commandLineOf (pid: number): Promise<string | undefined> {
  return (await listProcesses()).find((p) => p.pid === pid)?.cmd
}

function readPidFile (pidFile: string): { text: string, pid?: number } | undefined {
  let text: string
  try {
    text = readFileSync(pidFile, 'utf8')
  } catch {
    return undefined
  }
  const pid = Number(text.trim())
  return { text, pid: Number.isInteger(pid) && pid > 0 ? pid : undefined }
}

/** The pid a pid file names if that process still runs and its command line contains `commandMarker`. */
export async function ownPid (pidFile: string, commandMarker: string): Promise<number | undefined> {
  const pid = readPidFile(pidFile)?.pid
  if (pid === undefined || !isAlive(pid)) return undefined
  return (await commandLineOf(pid))?.includes(commandMarker) ? pid : undefined
}

/**
 * Stops the process a pid file names if it is still ours (its command line contains
 * `commandMarker`): SIGTERM, SIGKILL after `graceMs`. The pid file goes only if it still
 * names that process: a run that started meanwhile may have written its own.
 */
export async function stopPidFile (what: string, pidFile: string, commandMarker: string, graceMs = 10_000): Promise<void> {
  const before = readPidFile(pidFile)
  if (!before) return
  const pid = before.pid !== undefined ? await ownPid(pidFile, commandMarker) : undefined
  if (pid !== undefined) {
    say(`stopping the lab's ${what} (pid ${pid})`)
    await stopProcess(what, pid, graceMs)
  }
  if (readPidFile(pidFile)?.text === before.text) rmSync(pidFile, { force: true })
}

async function stopProcess (what: string, pid: number, graceMs: number): Promise<void> {
  const signal = (name: NodeJS.Signals) => { try { process.kill(pid, name) } catch { /* gone already */ } }
  signal('SIGTERM')
  if (await waitFor(`${what} to stop`, () => !isAlive(pid), graceMs)) return
  say(`${what} did not stop within ${graceMs / 1000} s: killing it`)
  signal('SIGKILL')
  await waitFor(`${what} to stop`, () => !isAlive(pid), 5000)
}

/**
 * One exchange with the server on HOST:`port`: sends `send` once connected, then hands all
 * it received so far to `answer` after each chunk, which may `write` more (a PONG, a
 * DISCONNECT). Resolves answer's first result other than undefined; undefined when the port
 * does not take connections, the server closes, or nothing decides within `ms`.
 */
export function talk<T> (
  port: number,
  send: Buffer | string,
  answer: (received: Buffer, write: (data: Buffer | string) => void) => T | undefined,
  ms = 2000
): Promise<T | undefined> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port })
    let received = Buffer.alloc(0)
    let done = false
    const finish = (result: T | undefined) => {
      if (done) return
      done = true
      clearTimeout(timer)
      // end(), not destroy(), once connected: a last write (MQTT's DISCONNECT) still goes out.
      if (socket.connecting || socket.destroyed) socket.destroy()
      else socket.end(() => socket.destroy())
      resolve(result)
    }
    const timer = setTimeout(() => finish(undefined), ms)
    socket.once('connect', () => { if (send.length > 0) socket.write(send) })
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      try {
        const result = answer(received, (data) => { if (!done) socket.write(data) })
        if (result !== undefined) finish(result)
      } catch {
        finish(undefined)
      }
    })
    // on, not once: a reset may still come after finish().
    socket.on('error', () => finish(undefined))
    socket.once('close', () => finish(undefined))
  })
}

/** Whether anything takes TCP connections on HOST:`port` (to tell "nothing there" from "something else there"). */
export function accepts (port: number, ms = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port })
    const finish = (ok: boolean) => { clearTimeout(timer); socket.destroy(); resolve(ok) }
    const timer = setTimeout(() => finish(false), ms)
    socket.once('connect', () => finish(true))
    socket.on('error', () => finish(false))
  })
}

export interface SlowServer {
  /** For the messages: "Kafka", "Zipkin". */
  label: string
  /** Where it answers, for the messages. */
  where: string
  ping: () => Promise<boolean>
  /** The pid of the lab's own, if it runs. */
  ownPid: () => Promise<number | undefined>
  /** Starts the lab's own; its pid. */
  start: () => Promise<number>
  down: () => Promise<void>
  log: string
  /** Why it may have exited before it answered, for the message (e.g. "is port 9411 taken?"). */
  exitHint?: string
}

/**
 * Brings up a server that takes a while to answer (a JVM): uses one that answers, waits for
 * the lab's own if an earlier call is still starting it, else starts it; then waits until
 * it answers or has gone. `started` when this call started it (its caller stops it again).
 */
export async function upSlowly (server: SlowServer): Promise<{ started: boolean }> {
  if (await server.ping()) {
    say(`${server.label} answers on ${server.where}`)
    return { started: false }
  }
  let pid = await server.ownPid()
  const started = pid === undefined
  if (pid !== undefined) say(`waiting for the lab's ${server.label} (pid ${pid}) to come up`)
  else pid = await server.start()
  const ours = pid
  let answered = false
  if (!await waitFor(`${server.label} to answer`, async () => (answered = await server.ping()) || !isAlive(ours), 60_000)) {
    if (started) await server.down()
    throw new LabError(`${server.label} started but did not answer on ${server.where} within 60 s; see ${server.log}`)
  }
  if (!answered) throw new LabError(`${server.label} exited before it answered${server.exitHint ? ` (${server.exitHint})` : ''}; see ${server.log}`)
  say(`${server.label} answers on ${server.where}`)
  return { started }
}
