// LAB.md as documentation tests: every `sh` block of every exercise is run, in order, the
// way a student runs it (a topic of its own and a faster pace are the only differences),
// and what comes out is counted: orders received, dead letters, the check's ok lines.
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { Lab, eachRunner, REPO, notOnThisMachine, uniqueTopic, until } from './lab.ts'
import { allAcceptedLine, isDeadLetterLine, receivedOrderIds } from '../../shared/log-lines.ts'

type Kind = 'lab-run' | 'lab-look' | 'lab-during' | 'lab-check'
interface Exercise { n: number, title: string, blocks: Array<{ kind: Kind, command: string }> }

/** The exercises of LAB.md: `## N. Title` sections and their ```sh <kind> blocks. */
function exercises (): Exercise[] {
  const text = readFileSync(join(REPO, 'LAB.md'), 'utf8')
  return text.split(/^## /m).slice(1).map((section) => {
    const [, n, title] = /^(\d+)\. (.*)/.exec(section)!
    const blocks = [...section.matchAll(/^```sh (lab-[a-z]+)\n([\s\S]*?)^```/gm)].flatMap(([, kind, body]) =>
      body!.split('\n').filter((l) => l.trim() !== '').map((command) => ({ kind: kind as Kind, command })))
    return { n: Number(n), title: title!, blocks }
  })
}

/** What each exercise's run must show, counted. */
const expected: Record<number, { received?: number, deadLetters?: number, lookLines?: number, needs?: string }> = {
  1: { received: 19 },
  2: { received: 19, lookLines: 3 },
  3: { received: 19, needs: 'kafka' },
  4: { received: 19 },
  5: { received: 19 },
  6: { received: 19, deadLetters: 3 },
  7: { received: 19, needs: 'zipkin' },
  8: { lookLines: 40 },
  9: { received: 19 },
  10: { received: 19 },
  11: { received: 19 },
  // The shop: billing, notification, shipping and the order service (its bills) each log 19.
  12: { received: 76 }
}

// `KEY=value npm start -- args` -> its environment and arguments.
function parseRun (command: string): { env: Record<string, string>, args: string[] } {
  const words = command.split(/\s+/)
  const env: Record<string, string> = {}
  while (/^[A-Z_]+=/.test(words[0]!)) {
    const [key, value] = words.shift()!.split('=')
    env[key!] = value!
  }
  expect(words.slice(0, 2), command).toEqual(['npm', 'start'])
  return { env, args: words.slice(3) }
}

// Unnamed runs, as a student's: on dapr.yaml's ports (exercise 2 curls 6001), with their
// logs where `npm run lab:check` reads them. Every other test's run is named (its own ports
// and logs), so these can go on beside them.
const asWritten = { LAB_RUN: '' }

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c() })

eachRunner('LAB.md, every exercise as written (runner: %s)', (runner) => {
  const all = exercises()
  it('has the twelve exercises, each with a check', () => {
    expect(all.map((e) => e.n)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
    for (const e of all) expect(e.blocks.filter((b) => b.kind === 'lab-check').map((b) => b.command), e.title).toEqual([`npm run lab:check -- ${e.n}`])
  })

  for (const exercise of all) {
    const want = expected[exercise.n]!
    it.skipIf(want.needs !== undefined && notOnThisMachine(want.needs))(`${exercise.n}. ${exercise.title}`, async () => {
      const topic = uniqueTopic()
      const env = { ...process.env, ORDERS_TOPIC: topic, PUBLISH_INTERVAL_MS: '100', LAB_RUNNER: runner }
      const runs = exercise.blocks.filter((b) => b.kind === 'lab-run')
      const run = runs.at(-1)
      const extra: string[] = []
      let lab: Lab | undefined
      // Runs before the last one prepare it: each goes until its checkout has published
      // everything, and then, as the student does, waits out a --ttl it was given.
      for (const before of runs.slice(0, -1)) {
        const { env: runEnv, args } = parseRun(before.command)
        const count = Number(runEnv.ORDER_COUNT ?? 19)
        const prep = new Lab(topic, { PUBLISH_INTERVAL_MS: '100', LAB_RUNNER: runner, ...asWritten, ...runEnv }, args)
        cleanups.push(() => prep.dispose())
        await prep.until(`"${before.command}" to publish ${count} orders`, () => prep.output.includes(allAcceptedLine(count)))
        const publishedAt = Date.now()
        await prep.stop()
        const ttl = args.includes('--ttl') ? Number(args[args.indexOf('--ttl') + 1]) : 0
        await until(`the orders' ${ttl} s to live to pass`, () => Date.now() - publishedAt > ttl * 1000 + 500, ttl * 1000 + 10_000)
      }
      // Blocks for while the run goes: started once orders flow, awaited at the end. Such a
      // run keeps the exercise's pace (an order a second): at the tests' quicker one the
      // checkout can be done before lab:crash has started, and the crash must land mid-run.
      const duringBlocks = exercise.blocks.filter((b) => b.kind === 'lab-during')
      if (run) {
        const { env: runEnv, args } = parseRun(run.command)
        const pace: Record<string, string> = duringBlocks.length > 0 ? {} : { PUBLISH_INTERVAL_MS: '100' }
        lab = new Lab(topic, { ...pace, LAB_RUNNER: runner, ...asWritten, ...runEnv }, args)
        cleanups.push(() => lab!.dispose())
      }

      if (lab && duringBlocks.length > 0) await lab.until('the first orders', () => lab!.received().length >= 3)
      const during = duringBlocks.map((b) => {
        const child = spawn('bash', ['-c', b.command], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] })
        for (const stream of [child.stdout, child.stderr]) stream.on('data', (chunk: Buffer) => extra.push(...chunk.toString().split('\n')))
        cleanups.push(() => { if (child.exitCode === null) child.kill('SIGTERM') })
        return child
      })

      const lines = () => [...(lab?.lines ?? []), ...extra]
      const received = () => receivedOrderIds(lines()).length
      const deadLetters = () => lines().filter(isDeadLetterLine).length
      if (lab) {
        await lab.until(`the exercise's run to finish (${want.received} received, ${want.deadLetters ?? 0} dead letters)`,
          () => lab!.output.includes(allAcceptedLine(19)) && received() >= want.received! && deadLetters() >= (want.deadLetters ?? 0), 150_000)
        expect(received(), 'orders received').toBe(want.received)
        expect(deadLetters(), 'dead letters').toBe(want.deadLetters ?? 0)
      }

      for (const block of exercise.blocks.filter((b) => b.kind === 'lab-look')) {
        const look = spawnSync('bash', ['-c', block.command], { cwd: REPO, env, encoding: 'utf8', timeout: 120_000 })
        expect(look.status, `${block.command}\n${look.stderr}`).toBe(0)
        expect(look.stdout.split('\n').filter((l) => l.trim() !== '').length, block.command).toBeGreaterThanOrEqual(exercise.n === 2 && block.command.startsWith('curl') ? 1 : want.lookLines!)
      }

      // Tracing: spans reach Zipkin in batches every 5 s; the check may need a second try.
      const check = () => spawnSync('bash', ['-c', `npm run --silent lab:check -- ${exercise.n}`], { cwd: REPO, env, encoding: 'utf8', timeout: 120_000 })
      let result = check()
      if (exercise.n === 7) await until('Zipkin to hold the trace', () => (result = check()).status === 0, 30_000).catch(() => {})
      const out = result.stdout.trim().split('\n').filter((l) => !l.startsWith('open '))
      expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0)
      expect(out.at(-1)).toBe(`Exercise ${exercise.n}: done.`)
      const checks = out.slice(0, -1)
      expect(checks.length, result.stdout).toBeGreaterThanOrEqual(2)
      expect(checks.filter((l) => l.startsWith('ok ')).length, result.stdout).toBe(checks.length)

      if (lab) await lab.stop()
      for (const child of during) {
        await until('the exercise\'s background command to end', () => child.exitCode !== null, 30_000)
        expect(child.exitCode, extra.join('\n')).toBe(0)
      }
    })
  }
})
