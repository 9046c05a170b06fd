// RabbitMQ for the lab: the broker on 127.0.0.1:5672 if it answers AMQP, otherwise a node of
// our own (dapr_lab@localhost) on loopback only (AMQP, Erlang distribution, epmd), with its
// config, data (mnesia), logs and Erlang cookie in the cache.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { CACHE, HOST, LabError, PORTS, say } from '../settings.ts'
import { accepts, startDaemon, stopPidFile, talk, waitFor } from './daemon.ts'
import { installPackage } from './debian.ts'
import { isAlive, isExecutable, onPath } from '../processes.ts'
import type { Service } from './service.ts'

const PORT = PORTS.rabbitmq
const DIR = join(CACHE, 'rabbitmq')
const LOG_DIR = join(DIR, 'log')
const NODE = 'dapr_lab@localhost'
const START_TIMEOUT_S = 60
/** The node's own pid file: it appears only some way into its boot. */
const NODE_PID_FILE = join(DIR, 'rabbitmq.pid')
/** The rabbitmq-server script's, which lives as long as the node. */
const STARTUP_PID_FILE = join(DIR, 'startup.pid')
const STARTUP_LOG = join(LOG_DIR, 'startup.log')
/** Present while the epmd that answers is one our node started (see up()). */
const EPMD_OURS = join(DIR, 'epmd.ours')
const EPMD_PORT = 4369
const LOGS = `${LOG_DIR} (startup.log, ${NODE}.log)`

/**
 * No client needed: RabbitMQ answers the AMQP 0-9-1 protocol header with a method frame
 * (type 1: connection.start). RabbitMQ opens its AMQP listener late in its boot, so this
 * answering already means (nearly) booted.
 */
function ping (): Promise<boolean> {
  return talk(PORT, Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'), (r) => r[0] === 1).then((ok) => ok === true)
}

/**
 * Debian keeps RabbitMQ's own scripts in /usr/lib/rabbitmq/bin: its /usr/sbin ones are
 * wrappers that only root or the rabbitmq user may run, and that switch to that user.
 */
function rabbitmqBin (tool: string): string | undefined {
  const debian = join('/usr/lib/rabbitmq/bin', tool)
  return isExecutable(debian) ? debian : onPath(tool)
}

/**
 * The environment of RabbitMQ's scripts (rabbitmq-server, rabbitmqctl) for the lab's node,
 * all of it in DIR: HOME there holds the Erlang cookie the server and the CLI share; nothing
 * is read from /etc/rabbitmq. The AMQP listener, the Erlang distribution (server and CLI)
 * and epmd listen on 127.0.0.1 only.
 */
const ENV: Record<string, string> = {
  HOME: DIR,
  RABBITMQ_NODENAME: NODE,
  RABBITMQ_NODE_IP_ADDRESS: HOST,
  RABBITMQ_NODE_PORT: String(PORT),
  RABBITMQ_DIST_PORT: String(PORT + 20000),
  ERL_EPMD_ADDRESS: HOST,
  RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
  RABBITMQ_CTL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
  RABBITMQ_CONFIG_FILE: join(DIR, 'rabbitmq.conf'),
  RABBITMQ_ADVANCED_CONFIG_FILE: join(DIR, 'advanced.config'),
  RABBITMQ_CONF_ENV_FILE: join(DIR, 'rabbitmq-env.conf'),
  RABBITMQ_ENABLED_PLUGINS_FILE: join(DIR, 'enabled_plugins'),
  RABBITMQ_MNESIA_BASE: join(DIR, 'mnesia'),
  RABBITMQ_LOG_BASE: LOG_DIR,
  RABBITMQ_PID_FILE: NODE_PID_FILE
}

async function install (): Promise<void> {
  if (rabbitmqBin('rabbitmq-server')) return
  await installPackage('rabbitmq-server', 'RabbitMQ (with Erlang; this can take a minute)', `RabbitMQ is not running on ${HOST}:${PORT} and rabbitmq-server is not installed.
Fix: install it (Debian/Ubuntu: 'sudo apt-get install rabbitmq-server'; macOS: 'brew install rabbitmq') or start a RabbitMQ on port ${PORT}, then run this again.`)
}

/** Rewritten on each start; address and port come from RABBITMQ_NODE_IP_ADDRESS/_PORT. */
function writeConfig (): void {
  mkdirSync(LOG_DIR, { recursive: true })
  writeFileSync(ENV.RABBITMQ_CONFIG_FILE!, `# Written by lab/services/rabbitmq.ts: the lab's own node, loopback only.
loopback_users.guest = true
log.console = false
log.file.level = info
`)
}

/** Whether an epmd (Erlang's port mapper) answers: NAMES_REQ, answered by its port number first. */
function epmdAnswers (): Promise<boolean> {
  return talk(EPMD_PORT, Buffer.from([0, 1, 110]), (r) => r.length < 4 ? undefined : r.readUInt32BE(0) === EPMD_PORT).then((ok) => ok === true)
}

/**
 * epmd is a daemon of its own that the node starts when none runs, and that outlives it.
 * Whether it will be ours is known only now, before the node starts: noted in EPMD_OURS.
 */
async function noteEpmd (): Promise<void> {
  if (await epmdAnswers()) rmSync(EPMD_OURS, { force: true })
  else writeFileSync(EPMD_OURS, 'no epmd ran when the lab started its RabbitMQ node: the one that runs now is the lab\'s\n')
}

/** For the wait while our node boots (`script`: rabbitmq-server's pid): up, or still booting, or gone (then it stops what is left and throws). */
async function booted (script: number): Promise<boolean> {
  if (await ping()) return true
  if (!isAlive(script)) {
    await down()
    throw new LabError(`rabbitmq-server stopped during start-up; see ${LOGS}`)
  }
  return false
}

/** The node says its boot has finished (rabbitmqctl has its own 30 s limit; execa's is a safety net). */
async function awaitStartup (): Promise<boolean> {
  const ctl = rabbitmqBin('rabbitmqctl')
  if (!ctl) return false
  const { failed } = await execa(ctl, ['-n', NODE, '-q', 'await_startup', '--timeout', '30'],
    { cwd: DIR, env: ENV, stdio: 'ignore', reject: false, timeout: 60_000 })
  return !failed
}

async function up (): Promise<{ started: boolean }> {
  const answers = () => { say(`RabbitMQ answers on ${HOST}:${PORT}`); return { started: false } }
  if (await ping()) return answers()
  await install()
  // A service of the package may run after all (started by hand, or by systemd); use it if so.
  if (await ping()) return answers()
  if (await accepts(PORT)) throw new LabError(`something listens on ${HOST}:${PORT} but does not answer AMQP. Stop it, then run this again.`)
  writeConfig()
  rmSync(NODE_PID_FILE, { force: true })
  await noteEpmd()
  say(`starting rabbitmq-server (node ${NODE}) on ${HOST}:${PORT} (data and logs in ${DIR}); this takes a while`)
  const t0 = Date.now()
  const script = await startDaemon({ command: rabbitmqBin('rabbitmq-server')!, args: [], cwd: DIR, env: ENV, log: STARTUP_LOG, pidFile: STARTUP_PID_FILE })
    .catch(() => { throw new LabError(`rabbitmq-server did not start; see ${STARTUP_LOG}`) })
  // Booted: the AMQP listener answers, and the node says its boot has finished.
  if (!await waitFor('RabbitMQ to start', () => booted(script), START_TIMEOUT_S * 1000) || !await awaitStartup()) {
    await down()
    throw new LabError(`RabbitMQ did not come up within ${START_TIMEOUT_S} s; see ${LOGS}`)
  }
  say(`RabbitMQ is up (${Math.round((Date.now() - t0) / 1000)} s)`)
  return { started: true }
}

/**
 * Stops the epmd our node started, once no node is registered with it any more: `epmd -kill`
 * refuses while one is (so never someone else's node's epmd).
 */
async function epmdDown (): Promise<void> {
  if (!existsSync(EPMD_OURS)) return
  rmSync(EPMD_OURS, { force: true })
  const epmd = onPath('epmd', ['/usr/lib/erlang/bin'])
  if (!epmd || !await epmdAnswers()) return
  const names = async () => (await execa(epmd, ['-names'], { reject: false })).stdout
  // The node's registration goes with its connection to epmd, a moment after it exits.
  if (!await waitFor('the RabbitMQ node to leave epmd', async () => !/^name /m.test(await names()), 5000)) return
  say('stopping the epmd our RabbitMQ node started')
  await execa(epmd, ['-kill'], { reject: false, stdio: 'ignore' })
}

/**
 * Stops the RabbitMQ node this project started (never someone else's), then its epmd. Before
 * the node's pid file appears, the rabbitmq-server script that runs it is stopped instead (it
 * passes SIGTERM on to the node). SIGTERM stops a node as cleanly as `rabbitmqctl stop` does,
 * and cannot hang: that CLI waits without end on a node that does not answer.
 */
async function down (): Promise<void> {
  await stopPidFile(`RabbitMQ node ${NODE}`, NODE_PID_FILE, rabbitmq.marker, 30_000)
  await stopPidFile('rabbitmq-server', STARTUP_PID_FILE, rabbitmq.marker, 30_000)
  await epmdDown()
}

export const rabbitmq: Service = { name: 'rabbitmq', label: 'RabbitMQ', port: PORT, marker: 'rabbit', ping, up, down }
