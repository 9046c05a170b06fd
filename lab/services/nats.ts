// NATS with JetStream for the lab: the server on 127.0.0.1:4222 if it answers with JetStream
// on, otherwise a nats-server of our own, bound to loopback, with its JetStream store, pid
// file and log in the cache.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { CACHE, HOST, LabError, PORTS, say } from '../settings.ts'
import { accepts, startDaemon, stopPidFile, talk, waitFor } from './daemon.ts'
import { installPackage } from './debian.ts'
import { onPath } from '../processes.ts'
import type { Service } from './service.ts'

const PORT = PORTS.nats
const DIR = join(CACHE, 'nats')
const PID_FILE = join(DIR, 'nats.pid')
const LOG = join(DIR, 'nats.log')

/** The protocol's lines (CRLF-terminated) of `received` from byte `at` on, and where the next one starts. */
function lineAt (received: Buffer, at: number): { line: string, next: number } | undefined {
  const end = received.indexOf('\r\n', at)
  return end < 0 ? undefined : { line: received.subarray(at, end).toString(), next: end + 2 }
}

/**
 * No nats CLI needed: a NATS server greets with an INFO line (which says "jetstream":true
 * when JetStream is on) and answers PING with PONG.
 */
function ping (): Promise<boolean> {
  let asked = false
  return talk(PORT, '', (received, write) => {
    const info = lineAt(received, 0)
    if (!info) return undefined
    if (!info.line.startsWith('INFO') || !info.line.includes('"jetstream":true')) return false
    if (!asked) {
      write('CONNECT {"verbose":false,"name":"dapr-pubsub-lab ping"}\r\nPING\r\n')
      asked = true
    }
    const reply = lineAt(received, info.next)
    return reply && reply.line.startsWith('PONG')
  }).then((ok) => ok === true)
}

// nats-server lives in /usr/sbin on Debian, which is not on a normal user's PATH.
const natsServer = () => onPath('nats-server', ['/usr/sbin'])

async function install (): Promise<void> {
  if (natsServer()) return
  await installPackage('nats-server', 'NATS', `NATS is not running on ${HOST}:${PORT} and nats-server is not installed.
Fix: install it (Debian/Ubuntu: 'sudo apt-get install nats-server'; macOS: 'brew install nats-server') or start a NATS server with JetStream ('nats-server -js') on port ${PORT}, then run this again.`)
}

async function up (): Promise<{ started: boolean }> {
  const answers = () => { say(`NATS (JetStream) answers on ${HOST}:${PORT}`); return { started: false } }
  if (await ping()) return answers()
  await install()
  // A service of the package may run after all (started by hand, or by systemd); use it if so.
  if (await ping()) return answers()
  if (await accepts(PORT)) {
    throw new LabError(`something listens on ${HOST}:${PORT} but is not a NATS server with JetStream on (a nats-server started without -js?). Stop it, then run this again.`)
  }
  mkdirSync(DIR, { recursive: true })
  say(`starting nats-server with JetStream on ${HOST}:${PORT} (store and log in ${DIR})`)
  // nats-server has no daemon mode: startDaemon runs it in the background (and writes its pid file).
  await startDaemon({ command: natsServer()!, args: ['-a', HOST, '-p', String(PORT), '-js', '-sd', DIR, '-l', LOG], log: LOG, pidFile: PID_FILE })
    .catch((err: Error) => { throw new LabError(`nats-server did not start (${err.message}); see ${LOG}`) })
  if (!await waitFor('NATS to answer', ping, 10_000)) {
    await down()
    throw new LabError(`nats-server did not start or does not answer; see ${LOG}`)
  }
  return { started: true }
}

/** Stops the nats-server this project started (never someone else's). */
function down (): Promise<void> {
  return stopPidFile('nats-server', PID_FILE, nats.marker)
}

export const nats: Service = { name: 'jetstream', label: 'NATS', port: PORT, marker: 'nats-server', ping, up, down }

/** The STREAM.CREATE request/reply: the reply's payload, or the server's -ERR line. */
function createStream (name: string): Promise<string | undefined> {
  const body = JSON.stringify({ name, subjects: [name], storage: 'file' })
  const request = `CONNECT {"verbose":false}\r\nSUB _INBOX.lab 1\r\nPUB $JS.API.STREAM.CREATE.${name} _INBOX.lab ${Buffer.byteLength(body)}\r\n${body}\r\n`
  let at = 0
  let asked = false
  return talk(PORT, '', (received, write) => {
    for (let l = lineAt(received, at); l; l = lineAt(received, at)) {
      if (l.line.startsWith('MSG')) {
        // MSG <subject> <sid> <size>, then the payload: wait until all of it is there.
        const size = Number(l.line.split(' ').at(-1))
        return received.length >= l.next + size ? received.subarray(l.next, l.next + size).toString() : undefined
      }
      at = l.next
      if (l.line.startsWith('-ERR')) return l.line
      if (l.line.startsWith('PING')) write('PONG\r\n')
      else if (!asked && l.line.startsWith('INFO')) { write(request); asked = true }
    }
    return undefined
  }, 5000)
}

/**
 * JetStream stores only subjects that some stream captures, and Dapr does not create
 * streams. This makes sure a stream named after the topic captures it, with one
 * request/reply on the NATS protocol (no nats CLI needed).
 */
export async function ensureJetStreamStream (name: string): Promise<void> {
  const reply = await createStream(name)
  // Created now, or it already exists (JetStream error 10058: name already in use).
  if (reply?.includes('"config"') || reply?.includes('10058')) return
  if (reply === undefined && !await accepts(PORT)) throw new LabError(`NATS does not answer on ${HOST}:${PORT}`)
  throw new LabError(`could not create the JetStream stream '${name}': ${reply || 'no answer'}. Is nats-server running with JetStream (-js)?`)
}
