// Drives the lab the way a person does: `npm start` in its own process group, Ctrl+C
// (SIGINT to the group) to stop it. Every process the run ever had is watched (its
// process tree, remembered when a parent dies), which is how a test finds what a run left
// behind. Every run has a topic of its own, so runs cannot see each other's orders.
import { randomUUID } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { createConnection } from 'node:net'
import { afterEach, describe, expect } from 'vitest'
import type { Redis } from 'ioredis'
import { flagOf, isAlive, type Proc } from '../../lab/processes.ts'
import { until } from '../../lab/poll.ts'
import { ProcessGroup } from '../../lab/run/group.ts'
import { namedRunFolder } from '../../lab/run/place.ts'
import { findDaprCli } from '../../lab/plan.ts'
import { services } from '../../lab/brokers.ts'
import { cloudEventOf, withRedis, type StreamEntry } from '../../lab/redis.ts'
import { logsNewestFirst } from '../../lab/run/logs.ts'
import { rosterApp } from '../../lab/roster.ts'
import { readRunFile } from '../../lab/run-file.ts'
import { PUBSUB_NAME, deadLetterTopic } from '../../shared/pubsub.ts'
import { makeOrder } from '../../shared/order.ts'
import { allAcceptedLine, appPrefix, handedOverServer, redisEntriesFailedInSidecar, isCrashKilledLine, isCrashRestartedLine, isDeadLetterLine, isSidecarRestartLine, receivedOrderIds } from '../../shared/log-lines.ts'

import { REPO } from '../../lab/settings.ts'
export { REPO }

export function uniqueTopic (): string {
  return `orders-e2e-${randomUUID().slice(0, 8)}`
}

export { until }

/**
 * The runners the end-to-end tests run the lab with: the project's, and the Dapr CLI's
 * `dapr run -f` (as on a laptop after `dapr init`). Without a CLI (on PATH or named by
 * DAPR_CLI) the CLI runner's tests are skipped, and `npm test`'s summary says so.
 */
export type RunnerKind = 'project' | 'cli'
export const RUNNERS: RunnerKind[] = ['project', 'cli']
const NO_CLI = findDaprCli() === undefined

/** Whether a runner's tests cannot run here: the CLI's, when there is no Dapr CLI (even on CI: it cannot be had here). */
export const runnerMissing = (runner: RunnerKind): boolean => runner === 'cli' && NO_CLI

/** A describe block per runner (`%s` in the title is the runner), skipped for a runner that is missing. */
export function eachRunner (title: string, body: (runner: RunnerKind) => void): void {
  for (const runner of RUNNERS) describe.skipIf(runnerMissing(runner))(title.replace('%s', runner), () => body(runner))
}

let labs = 0

export class Lab extends ProcessGroup {
  /** The run's name (LAB_RUN): its own folder, ports and logs, so that runs can go on side by side. */
  readonly run: string

  /** `npm start` with `args`, on the project's runner unless env says LAB_RUNNER=cli. */
  constructor (readonly topic: string, env: Record<string, string> = {}, args: string[] = [], readonly cwd = REPO, command = ['npm', 'start']) {
    const run = env.LAB_RUN ?? `${topic}-${++labs}`
    super(command[0]!, [...command.slice(1), ...(args.length ? ['--', ...args] : [])], {
      cwd,
      env: { ...process.env, LAB_RUNNER: 'project', ORDERS_TOPIC: topic, LAB_RUN: run, ...env }
    })
    this.run = run
  }

  /** The HTTP port of an app's sidecar in this run, from the sidecar's command line. */
  async daprHttpPort (appId = 'order-processor'): Promise<string | undefined> {
    return flagOf((await this.find('daprd', `--app-id ${appId}`)).cmd, '--dapr-http-port')
  }

  /** The run's own folder: its run file, resources, state file and logs (lab/run/place.ts). */
  get folder (): string { return join(this.cwd, relative(REPO, namedRunFolder(this.run))) }

  /** The port an app of this run listens on, from its run file (the plan gives a named run ports of its own). */
  async appPort (appId = 'order-processor', instance = 1): Promise<number> {
    const file = join(this.folder, 'dapr.yaml')
    await until(`the run file of ${this.run}`, () => existsSync(file) || this.exitCode !== undefined, 60_000)
    const port = readRunFile(file).apps.filter((a) => a.appID === appId)[instance - 1]?.appPort
    if (port === undefined) throw new Error(`${file} has no port for ${appId} #${instance}\n${this.output}`)
    return port
  }

  /** The base URL of an app of this run. */
  async url (appId = 'order-processor'): Promise<string> {
    return `http://127.0.0.1:${await this.appPort(appId)}`
  }

  /** The newest log file of an app or its sidecar in this run (in the folder the run's app runs in: lab/run/place.ts). */
  async log (appId: string, kind: 'app' | 'daprd'): Promise<string> {
    const [file] = logsNewestFirst(rosterApp(appId).dir, appId, kind, this.run)
    if (file === undefined) throw new Error(`no ${kind} log of ${appId} in run ${this.run}`)
    return file
  }

  /** Polls until `done`; fails with the run's output if the deadline passes (2 minutes unless said) or the run ends first. */
  override async until (what: string, done: () => boolean | Promise<boolean>, ms = 120_000): Promise<void> {
    await super.until(what, done, ms)
  }

  /** orderIds from the order-processor's `Subscriber received: orderId=N, ...` lines. */
  received (): number[] {
    return receivedOrderIds(this.lines.filter((l) => l.startsWith(appPrefix('order-processor'))))
  }

  /**
   * After a test, however it ended: stops the run, kills whatever of it is left, and
   * deletes what it left in Redis (its streams, the subscribers' ledger entries).
   */
  async dispose (): Promise<void> {
    await this.stop({ ms: 30_000 }).catch(() => { /* killed what was left */ })
    for (const stream of [this.topic, deadLetterTopic(this.topic)]) await deleteRedisKey(stream).catch(() => {})
    for (const app of ['order-processor', 'shipping']) {
      await deleteLedger(this.topic, app).catch(() => { /* Redis is gone: nothing to delete */ })
    }
  }

  /** Whether a process is a server the run handed over to another run going on (it says so): that run's now. */
  handedOver (p: Proc): boolean {
    return this.lines.some((line) => {
      const marker = services.find((s) => s.label === handedOverServer(line))?.marker
      return marker !== undefined && p.cmd.includes(marker)
    })
  }

  /** What is left of the run but the servers it handed over: nothing, once it has stopped. */
  async leftBehind (): Promise<Proc[]> {
    return (await this.processes()).filter((p) => !this.handedOver(p))
  }

  /**
   * Ctrl+C, then waits until every process of the run is gone (npm itself returns at once;
   * the runner or the Dapr CLI takes a moment to stop apps and sidecars); fails, having
   * killed them, if some outlive `ms`. A server the run started and handed over to another
   * run going on (it says so) is that run's now, and lives on.
   */
  override async stop ({ presses = 1, ms = 60_000 }: { presses?: number, ms?: number } = {}): Promise<Proc[]> {
    const left = await super.stop({ signal: 'SIGINT', presses, graceMs: ms, spare: (p) => this.handedOver(p) })
    if (left.length > 0) throw new Error(`timed out after ${ms} ms waiting for every process of the run to exit after Ctrl+C; left (killed): ${JSON.stringify(left)}`)
    return left
  }
}

/**
 * Runs a command to its end, watching every process it starts: `left` is what outlived it
 * (there must be nothing).
 */
export async function runTracked (command: string, args: string[], options: { cwd?: string, env?: NodeJS.ProcessEnv }): Promise<{ status: number | null, stdout: string, stderr: string, left: Proc[] }> {
  const run = new ProcessGroup(command, args, { cwd: options.cwd ?? REPO, env: options.env ?? process.env, watchEvery: 250 })
  const status = await run.exited
  await run.closed
  // Nothing of it may outlive it: what is still there now is killed, and answered.
  const left = await run.settle(0)
  return { status, stdout: run.stdout.join('\n'), stderr: run.stderr.join('\n'), left }
}

export { portIsFree } from '../../lab/ports.ts'

/** Deletes a run's stream (Redis Streams keys are named after the topic). */
export async function deleteRedisKey (key: string): Promise<void> {
  await withRedis((r) => r.del(key))
}

const ALL_ORDERS = Array.from({ length: 19 }, (_, i) => i + 1)

/** orderId 1..19, each exactly once. */
export function expectEachOnce (received: number[], output: string): void {
  const counts = new Map<number, number>()
  for (const id of received) counts.set(id, (counts.get(id) ?? 0) + 1)
  expect([...counts.keys()].sort((a, b) => a - b), output).toEqual(ALL_ORDERS)
  expect([...counts.values()].every((n) => n === 1), `duplicates: ${JSON.stringify([...counts])}`).toBe(true)
}

/**
 * Whether what a test needs could not be had on this machine: `npm test`
 * (lab/commands/test.ts) lists what it could not provide (LAB_UNAVAILABLE, "name: reason"
 * lines: a broker, zipkin, chromium, the cluster, redis-restart). On CI nothing may be
 * missing, so nothing is skipped there; on a laptop npm test's last lines say what and why.
 */
export function notOnThisMachine (name: string): boolean {
  const unavailable = (process.env.LAB_UNAVAILABLE ?? '').split('\n').some((line) => line.startsWith(`${name}:`))
  return unavailable && !process.env.CI
}

/**
 * Ends an MQTT client's persistent session on the broker (CONNECT with clean session,
 * then DISCONNECT), dropping whatever it had queued or in flight for that client id.
 */
export function resetMqttSession (clientId: string, port = 1883): Promise<void> {
  const id = Buffer.from(clientId)
  // Variable header: protocol "MQTT", level 4 (3.1.1), flags: clean session, keep-alive 10 s.
  const body = Buffer.concat([Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 10, id.length >> 8, id.length & 0xff]), id])
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => socket.write(Buffer.concat([Buffer.from([0x10, body.length]), body])))
    socket.once('data', (connack) => {
      socket.end(Buffer.from([0xe0, 0]))
      if (connack[0] === 0x20 && connack[3] === 0) resolve()
      else reject(new Error(`MQTT broker refused the session reset: ${connack.toString('hex')}`))
    })
    socket.once('error', reject)
  })
}

/** Every key matching `pattern` (SCAN, not KEYS: Redis is not blocked). */
export async function keysMatching (redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    keys.push(...batch)
    cursor = next
  } while (cursor !== '0')
  return keys
}

/**
 * The order-processor's ledger for a topic, read straight from Redis: the orderId of
 * every event recorded as processed (Dapr's Redis state store keeps key K of app A in the
 * hash "A||K", the value as JSON in its "data" field).
 */
export async function processedOrderIds (topic: string, appId = 'order-processor'): Promise<number[]> {
  return (await ledgerEntries(topic, appId)).map((e) => e.orderId)
}

/** What an app's ledger says of each event it processed on a topic (shared/subscriber/delivery.ts). */
export async function ledgerEntries (topic: string, appId = 'order-processor'): Promise<Array<{ orderId: number, eventId?: string, route?: string }>> {
  return await withRedis(async (r) => {
    const keys = await keysMatching(r, `${appId}||processed:${topic}:*`)
    const values = await Promise.all(keys.map((k) => r.hget(k, 'data')))
    return values.map((data) => JSON.parse(data!) as { orderId: number, eventId?: string, route?: string })
  })
}

/** Deletes an app's ledger entries for a topic. */
export async function deleteLedger (topic: string, appId = 'order-processor'): Promise<void> {
  await withRedis(async (r) => {
    const keys = await keysMatching(r, `${appId}||*:${topic}:*`)
    if (keys.length > 0) await r.del(...keys)
  })
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1)

/**
 * Every order 1..n is in the ledger exactly once (none lost, none processed twice), and no
 * order was reported processed twice by any incarnation of the order-processor.
 */
export async function expectExactlyOnceInEffect (topic: string, n: number, lines: string[], excused: number[] = []): Promise<void> {
  const due = range(n).filter((id) => !excused.includes(id))
  const missing = async () => { const done = new Set(await processedOrderIds(topic)); return due.filter((id) => !done.has(id)) }
  await until(`${due.length} orders in the ledger of ${topic}`, async () => (await missing()).length === 0, 120_000)
    .catch(async (err: Error) => { throw new Error(`${err.message}; missing ${(await missing()).join(', ')}\n${lines.slice(-40).join('\n')}`) })
  const processed = (await processedOrderIds(topic)).sort((a, b) => a - b)
  expect(processed).toEqual(range(n).filter((id) => !excused.includes(id) || processed.includes(id)))
  const times = new Map<number, number>()
  for (const id of receivedOrderIds(lines)) times.set(id, (times.get(id) ?? 0) + 1)
  expect([...times].filter(([, count]) => count > 1), 'orders processed more than once').toEqual([])
}

/**
 * A run with POISON_EVERY=5 (19 orders, 3 poison orders among them): every valid order
 * processed exactly once in effect and logged once, and each poison order dead-lettered
 * once. Answers the dead-letter lines.
 */
export async function expectPoisonDeadLetteredOnce (lab: Lab): Promise<string[]> {
  const poison = ['"poison-1"', '"poison-2"', '"poison-3"']
  await lab.until('3 dead letters', () => lab.lines.filter(isDeadLetterLine).length >= poison.length)
  await expectExactlyOnceInEffect(lab.topic, 19, lab.lines)
  // The ledger is written before the log line, which comes through the runner's pipe.
  await lab.until('the 19th log line', () => lab.received().length >= 19, 30_000)
  expectEachOnce(lab.received(), lab.output)
  const dead = lab.lines.filter(isDeadLetterLine)
  expect(dead).toHaveLength(poison.length)
  for (const id of poison) expect(dead.filter((l) => l.includes(`orderId=${id} `)), id).toHaveLength(1)
  return dead
}

/**
 * `npm run lab:crash -- SECONDS` beside a run, as LAB.md's exercise 5 has it: kills the
 * order-processor, starts it again after SECONDS (its output is the returned Lab's).
 */
export function startCrash (lab: Lab, seconds: number): Lab {
  return new Lab(lab.topic, { LAB_RUN: lab.run }, [String(seconds)], REPO, ['npm', 'run', 'lab:crash'])
}

/** For a test file: `track(lab)` disposes of the lab after the test, however it ended. */
export function disposedAfterEach (): (lab: Lab) => Lab {
  const labs: Lab[] = []
  afterEach(async () => {
    for (const lab of labs.splice(0).reverse()) await lab.dispose()
  })
  return (lab) => { labs.push(lab); return lab }
}

/**
 * The orders of the stream entries a run's order-processor sidecar reported failing to
 * deliver (daprd's `Error processing Redis message <id>` lines, the entries read back from
 * the stream): on a paused bulk subscription daprd may acknowledge them undelivered.
 */
export async function ordersFailedInSidecar (lab: Lab): Promise<number[]> {
  const ids = redisEntriesFailedInSidecar(readFileSync(await lab.log('order-processor', 'daprd'), 'utf8').split('\n'))
  return await withRedis(async (r) => {
    const entries = (await Promise.all(ids.map((id) => r.xrange(lab.topic, id, id)))).flat() as StreamEntry[]
    return entries.map((entry) => (cloudEventOf(entry)?.data as { orderId?: number } | undefined)?.orderId).filter((id): id is number => typeof id === 'number')
  })
}

/**
 * Publishes the lab's orders `ids` to the run's topic as the checkout does, through the
 * order-processor's sidecar (up while its app is down; any sidecar may publish). A kill
 * test needs orders published while the app is down, whatever the pace of the checkout
 * and of lab:crash's start: the checkout may have published everything by then.
 */
export async function publishOrders (lab: Lab, ids: number[]): Promise<void> {
  const port = await lab.daprHttpPort()
  for (const id of ids) {
    const res = await fetch(`http://127.0.0.1:${port}/v1.0/publish/${PUBSUB_NAME}/${lab.topic}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(makeOrder(id))
    })
    expect(res.status, `publish of order ${id}: ${await res.text()}`).toBe(204)
  }
}

/** How long a kill test keeps the order-processor down, and what it checks meanwhile and after the restart. */
export interface KillOptions {
  seconds?: number
  whileDown?: () => Promise<void>
  /** Answers the output lines of a later run, when it is that run that delivers the rest. */
  restarted?: (again: Lab) => Promise<string[] | void>
  /** Orders that may be missing, asked once the restarted order-processor runs: those a known Dapr bug may lose. */
  excused?: () => Promise<number[]>
}

/**
 * The kill test of a subscription mode: with `lab` publishing `many` orders, SIGKILL the
 * order-processor once 60 are processed (npm run lab:crash), publish 50 more while it is
 * down, start it again; then each of the many + 50 is processed exactly once in effect, at
 * least those 50 by the restarted one, nothing is dead-lettered and every publish was
 * accepted. `restarted` waits for what the mode needs before the count (its stream open),
 * or starts the run that delivers the rest.
 */
export async function expectNothingLostWhenKilled (lab: Lab, many: number, track: (lab: Lab) => Lab, { seconds = 5, whileDown, restarted, excused }: KillOptions = {}): Promise<void> {
  await lab.until('60 orders processed', () => lab.received().length >= 60)
  const again = track(startCrash(lab, seconds))
  await again.until('lab:crash to kill the order-processor', () => again.lines.some(isCrashKilledLine), 30_000)
  await publishOrders(lab, range(50).map((i) => many + i))
  expect(again.lines.some(isCrashRestartedLine), 'the 50 orders were published while the order-processor was down').toBe(false)
  await whileDown?.()
  await again.until('lab:crash to start it again', () => again.lines.some(isCrashRestartedLine), 30_000 + seconds * 1000)
  const next = await restarted?.(again) ?? []
  const later = () => [...again.lines, ...next]
  await expectExactlyOnceInEffect(lab.topic, many + 50, [...lab.lines, ...later()], await excused?.() ?? [])
  await expectNoLedgerRetries(lab)
  // A log line reaches us after its order's ledger entry (an asynchronous destination, pipes).
  await until('50 orders logged as processed after the restart', () => receivedOrderIds(later()).length >= 50, 10_000)
    .catch((err: Error) => { throw new Error(`${err.message}\n${later().slice(-40).join('\n')}`) })
  expect([...lab.lines, ...later()].filter(isDeadLetterLine), 'dead letters').toEqual([])
  await lab.until('the checkout to report all accepted', () => lab.output.includes(allAcceptedLine(many)), 30_000)
}

/**
 * The order-processor's sidecar retried none of the ledger's state calls: the answer
 * "already recorded" to a redelivered order is a conflict, not a failure to retry.
 */
export async function expectNoLedgerRetries (lab: Lab): Promise<void> {
  const log = await lab.log('order-processor', 'daprd')
  const retries = readFileSync(log, 'utf8').split('\n').filter((l) => l.includes('component[statestore] output. Retrying'))
  expect(retries, `ledger calls retried by the sidecar (${log})`).toEqual([])
}

/**
 * SIGKILLs the order-processor's sidecar and waits for the project's runner to start a new
 * one; answers the killed one's pid.
 */
export async function killSidecarUntilRestarted (lab: Lab): Promise<number> {
  const { pid } = await lab.find('daprd', '--app-id order-processor')
  await killHard(pid)
  await lab.until('the runner to restart the sidecar', () => lab.lines.some((l) => isSidecarRestartLine(l, 'order-processor')))
  return pid
}

/** SIGKILL, then waits until the process is gone (its parent has reaped it). */
export async function killHard (pid: number): Promise<void> {
  process.kill(pid, 'SIGKILL')
  await until(`process ${pid} to die`, () => !isAlive(pid), 10_000)
}
