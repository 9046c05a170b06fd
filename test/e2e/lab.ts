// Drives the lab the way a person does: `npm start` in its own process group, Ctrl+C
// (SIGINT to the group) to stop it. Every process of a run inherits a unique
// ORDERS_TOPIC, which is how a test finds what a run left behind.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { expect } from 'vitest'
import type { Redis } from 'ioredis'
import { imageOf, processesOfTopic, type ProcessImage } from '../../scripts/processes.ts'
import { withRedis } from '../../lab/redis.ts'
import { deadLetterTopic } from '../../shared/pubsub.ts'
import { receivedOrderIds } from '../../shared/log-lines.ts'

export const REPO = fileURLToPath(new URL('../..', import.meta.url))

export function uniqueTopic (): string {
  return `orders-e2e-${randomUUID().slice(0, 8)}`
}

/** Polls `check` every 100 ms until it is true; fails with `what` after `ms`. */
export async function until (what: string, check: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(100)
  }
}

export class Lab {
  readonly lines: string[] = []
  readonly child: ChildProcess
  exitCode: number | null | undefined

  constructor (readonly topic: string, env: Record<string, string> = {}, args: string[] = [], cwd = REPO) {
    this.child = spawn('npm', ['start', ...(args.length ? ['--', ...args] : [])], {
      cwd,
      env: { ...process.env, ORDERS_TOPIC: topic, ...env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe']
    })
    collectLines(this.child, this.lines)
    this.child.on('exit', (code) => { this.exitCode = code })
  }

  get output (): string { return this.lines.join('\n') }

  /** orderIds from the order-processor's `Subscriber received: orderId=N, ...` lines. */
  received (): number[] {
    return receivedOrderIds(this.lines.filter((l) => l.startsWith('== APP - order-processor == ')))
  }

  /**
   * After a test, however it ended: stops the run, kills whatever of it is left, and
   * deletes what it left in Redis (its streams, the subscribers' ledger entries).
   */
  async dispose (): Promise<void> {
    await this.stop({ ms: 30_000 }).catch(() => {})
    killProcessesOf(this.topic)
    for (const stream of [this.topic, deadLetterTopic(this.topic)]) await deleteRedisKey(stream).catch(() => {})
    for (const app of ['order-processor', 'shipping']) {
      await deleteLedger(this.topic, app).catch(() => { /* Redis is gone: nothing to delete */ })
    }
  }

  /**
   * Ctrl+C, then waits until every process of the run is gone (npm itself returns at once;
   * the runner or the Dapr CLI takes a moment to stop apps and sidecars).
   */
  async stop ({ presses = 1, ms = 60_000 } = {}): Promise<void> {
    if (this.child.pid === undefined) return
    for (let i = 0; i < presses; i++) {
      try { process.kill(-this.child.pid, 'SIGINT') } catch { /* already gone */ }
    }
    await until('every process of the run to exit after Ctrl+C', () => this.exitCode !== undefined && processesOf(this.topic).length === 0, ms)
  }
}

/** Processes whose environment carries ORDERS_TOPIC=<topic>: what a run started. */
export function processesOf (topic: string): string[] {
  return processesOfTopic(topic).map((p) => `${p.pid} ${p.argv.join(' ')}`)
}

/** Last resort after a failed test: nothing of the run may outlive it. */
export function killProcessesOf (topic: string): void {
  for (const entry of processesOf(topic)) {
    try { process.kill(Number(entry.split(' ')[0]), 'SIGKILL') } catch {}
  }
}

export function portIsFree (port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, host, () => server.close(() => resolve(true)))
  })
}

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

/** Polls until `done`; fails with the run's output if the deadline passes or the run ends first. */
export async function runUntil (lab: Lab, what: string, done: () => boolean, ms = 120_000): Promise<void> {
  await until(what, () => done() || lab.exitCode !== undefined, ms)
    .catch((err: Error) => { throw new Error(`${err.message}\n--- output ---\n${lab.output}`) })
  if (!done()) throw new Error(`the run ended before ${what}\n--- output ---\n${lab.output}`)
}

/**
 * Whether to skip a broker's tests: scripts/test.sh lists the brokers that could not start
 * on this machine (LAB_UNAVAILABLE_BROKERS, "name: reason" lines). On CI every broker must
 * run, so nothing is skipped there; on a laptop npm test's last lines say which and why.
 */
export function skipBroker (name: string): boolean {
  const unavailable = (process.env.LAB_UNAVAILABLE_BROKERS ?? '').split('\n').some((line) => line.startsWith(`${name}:`))
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
async function keysMatching (redis: Redis, pattern: string): Promise<string[]> {
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
export async function processedOrderIds (topic: string): Promise<number[]> {
  return await withRedis(async (r) => {
    const keys = await keysMatching(r, `order-processor||processed:${topic}:*`)
    const values = await Promise.all(keys.map((k) => r.hget(k, 'data')))
    return values.map((data) => (JSON.parse(data!) as { orderId: number }).orderId)
  })
}

/** Deletes an app's ledger entries for a topic. */
export async function deleteLedger (topic: string, appId = 'order-processor'): Promise<void> {
  await withRedis(async (r) => {
    const keys = await keysMatching(r, `${appId}||*:${topic}:*`)
    if (keys.length > 0) await r.del(...keys)
  })
}

/** The one process of a run whose command line contains every `parts`. */
export function findProcess (topic: string, ...parts: string[]): ProcessImage {
  const matches = processesOf(topic).filter((p) => parts.every((part) => p.includes(part)))
  if (matches.length !== 1) throw new Error(`expected one process with ${parts.join(' ')}, found: ${JSON.stringify(matches)}`)
  return imageOf(Number(matches[0]!.split(' ')[0]))
}

/** SIGKILL, then waits until the process is gone. */
export async function killHard (pid: number): Promise<void> {
  process.kill(pid, 'SIGKILL')
  await until(`process ${pid} to die`, () => !existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] === 'Z', 10_000)
}

/** Starts a process again from its image (as a supervisor would); its output lines go to `lines`. */
export function respawn (image: ProcessImage, lines: string[]): ChildProcess {
  const child = spawn(image.argv[0]!, image.argv.slice(1), { cwd: image.cwd, env: image.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  collectLines(child, lines)
  return child
}

/** Appends a child's stdout and stderr to `lines`, a line at a time. */
function collectLines (child: ChildProcess, lines: string[]): void {
  for (const stream of [child.stdout!, child.stderr!]) {
    let rest = ''
    stream.on('data', (chunk: Buffer) => {
      const parts = (rest + chunk.toString()).split('\n')
      rest = parts.pop()!
      lines.push(...parts)
    })
  }
}
