// Mosquitto (MQTT) for the lab: the broker on 127.0.0.1:1883 if it answers, otherwise a
// mosquitto of our own, bound to loopback, with its config, persistence and log in the cache.
import { mkdirSync, writeFileSync } from 'node:fs'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { CACHE, HOST, LabError, PORTS, say } from '../settings.ts'
import { accepts, runLogged, stopPidFile, talk, waitFor } from './daemon.ts'
import { installPackage } from './debian.ts'
import { onPath } from '../processes.ts'
import type { Service } from './service.ts'

const PORT = PORTS.mqtt
const DIR = join(CACHE, 'mosquitto')
const CONFIG = join(DIR, 'mosquitto.conf')
const PID_FILE = join(DIR, 'mosquitto.pid')
const LOG = join(DIR, 'mosquitto.log')

// An MQTT 3.1.1 CONNECT (clean session, no client id), its CONNACK "accepted", and DISCONNECT.
const CONNECT = Buffer.from([0x10, 0x0c, 0x00, 0x04, ...Buffer.from('MQTT'), 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00])
const ACCEPTED = Buffer.from([0x20, 0x02, 0x00, 0x00])
const DISCONNECT = Buffer.from([0xe0, 0x00])

/** No MQTT client needed: a CONNECT must be answered by CONNACK "accepted"; then DISCONNECT. */
function ping (): Promise<boolean> {
  return talk(PORT, CONNECT, (received, write) => {
    if (received.length < ACCEPTED.length) return undefined
    if (!received.subarray(0, ACCEPTED.length).equals(ACCEPTED)) return false
    write(DISCONNECT)
    return true
  }).then((ok) => ok === true)
}

// mosquitto lives in /usr/sbin on Debian, which is not on a normal user's PATH.
const mosquittoBin = () => onPath('mosquitto', ['/usr/sbin'])

async function install (): Promise<void> {
  if (mosquittoBin()) return
  await installPackage('mosquitto', 'Mosquitto', `Mosquitto is not running on ${HOST}:${PORT} and mosquitto is not installed.
Fix: install it (Debian/Ubuntu: 'sudo apt-get install mosquitto'; macOS: 'brew install mosquitto') or start an MQTT broker on port ${PORT}, then run this again.`)
}

/**
 * Rewritten on each start. `user`: as root, mosquitto would otherwise switch to the
 * "mosquitto" user, which cannot write into our cache; as any other user it is ignored.
 */
function writeConfig (): void {
  writeFileSync(CONFIG, `# Written by lab/services/mosquitto.ts: the lab's own MQTT broker, loopback only.
listener ${PORT} ${HOST}
allow_anonymous true
persistence true
persistence_location ${DIR}/
pid_file ${PID_FILE}
log_dest file ${LOG}
user ${userInfo().username}
`)
}

async function up (): Promise<{ started: boolean }> {
  const answers = () => { say(`Mosquitto answers on ${HOST}:${PORT}`); return { started: false } }
  if (await ping()) return answers()
  await install()
  // A service of the package may run after all (started by hand, or by systemd); use it if so.
  if (await ping()) return answers()
  if (await accepts(PORT)) throw new LabError(`something listens on ${HOST}:${PORT} but does not answer MQTT. Stop it, then run this again.`)
  mkdirSync(DIR, { recursive: true })
  writeConfig()
  say(`starting mosquitto on ${HOST}:${PORT} (persistence and log in ${DIR})`)
  // mosquitto has a daemon mode of its own (-d), and writes its own pid file.
  if (!await runLogged(mosquittoBin()!, ['-c', CONFIG, '-d'], { log: LOG, append: true })) throw new LabError(`mosquitto did not start; see ${LOG}`)
  if (!await waitFor('Mosquitto to answer', ping, 10_000)) {
    await down()
    throw new LabError(`mosquitto started but does not answer; see ${LOG}`)
  }
  return { started: true }
}

/** Stops the mosquitto this project started (never someone else's). */
function down (): Promise<void> {
  return stopPidFile('mosquitto', PID_FILE, mosquitto.marker)
}

export const mosquitto: Service = { name: 'mqtt', label: 'Mosquitto', port: PORT, marker: 'mosquitto', ping, up, down }
