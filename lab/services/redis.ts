// Redis for the lab: the one on 127.0.0.1:6379 if it answers, otherwise a redis-server of
// our own, bound to loopback, with its data and AOF log in the cache.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { CACHE, HOST, LabError, PORTS, say } from '../settings.ts'
import { ownPid, stopPidFile, talk, waitFor } from './daemon.ts'
import { installPackage } from './debian.ts'
import { onPath } from '../processes.ts'
import type { Service } from './service.ts'

const PORT = PORTS.redis
const DIR = join(CACHE, 'redis')
const PID_FILE = join(DIR, 'redis.pid')
const LOG = join(DIR, 'redis.log')

/** No redis-cli needed: one PING, answered by +PONG. */
function ping (): Promise<boolean> {
  return talk(PORT, 'PING\r\n', (r) => r.includes('\n') ? r.toString().startsWith('+PONG') : undefined).then((ok) => ok === true)
}

async function install (): Promise<void> {
  if (onPath('redis-server')) return
  await installPackage('redis-server', 'Redis', `Redis is not running on ${HOST}:${PORT} and redis-server is not installed.
Fix: install it (Debian/Ubuntu: 'sudo apt-get install redis-server'; macOS: 'brew install redis'), or run 'dapr init', which starts a Redis on port ${PORT} on any system with Docker, then run this again.`)
}

async function up (): Promise<{ started: boolean }> {
  const answers = () => { say(`Redis answers on ${HOST}:${PORT}`); return { started: false } }
  if (await ping()) return answers()
  await install()
  // The Debian package may have started its own service; use it if so.
  if (await ping()) return answers()
  mkdirSync(DIR, { recursive: true })
  say(`starting redis-server on ${HOST}:${PORT} (data and AOF in ${DIR})`)
  // redis-server has a daemon mode of its own, and writes its own pid file.
  await execa(onPath('redis-server')!, ['--bind', HOST, '--port', String(PORT), '--dir', DIR, '--appendonly', 'yes',
    '--daemonize', 'yes', '--pidfile', PID_FILE, '--logfile', LOG], { stdio: 'ignore' })
    .catch(() => { throw new LabError(`redis-server did not start; see ${LOG}`) })
  if (!await waitFor('Redis to answer', ping, 10_000)) throw new LabError(`redis-server started but does not answer; see ${LOG}`)
  return { started: true }
}

/** Stops the redis-server this project started (never someone else's). */
function down (): Promise<void> {
  return stopPidFile('redis-server', PID_FILE, redis.marker)
}

export const redis: Service = { name: 'redis', label: 'Redis', port: PORT, marker: 'redis-server', ping, up, down }

/** The pid of the redis-server the lab started, if it runs (tests restart only that one). */
export function labRedisPid (): Promise<number | undefined> {
  return ownPid(PID_FILE, redis.marker)
}
