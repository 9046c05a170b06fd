// `npm run doctor`, and the same checks at the start of `npm start`: each broken condition
// is made for real in a copy of the project (the repository's own files are never
// touched), and the doctor must name it, say the fix, and set the exit code.
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort } from '../../lab/ports.ts'
import { REPO, runTracked, uniqueTopic, until } from './lab.ts'

const temps: string[] = []
afterAll(() => { for (const dir of temps) rmSync(dir, { recursive: true, force: true }) })

function tempDir (prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  temps.push(dir)
  return dir
}


/**
 * A copy of the project, as swap-broker.test.ts makes one. Its order-processor gets a port
 * of its own instead of 6001, so another lab running on this machine cannot fail the test;
 * the doctor reads the port from dapr.yaml either way.
 */
async function copyProject (): Promise<{ dir: string, appPort: number }> {
  const dir = tempDir('dapr-lab-doctor-')
  cpSync(REPO, dir, { recursive: true, filter: (src) => !/\/(node_modules|\.git|\.dapr)$/.test(src) })
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'))
  // The lock file must not look newer than the shared node_modules (npm start would reinstall).
  utimesSync(join(dir, 'package-lock.json'), 0, 0)
  const appPort = await freePort()
  edit(dir, 'dapr.yaml', 'appPort: 6001', `appPort: ${appPort}`)
  return { dir, appPort }
}

function edit (dir: string, file: string, from: string, to: string): void {
  const text = readFileSync(join(dir, file), 'utf8')
  expect(text, `${file} should contain ${from}`).toContain(from)
  writeFileSync(join(dir, file), text.replace(from, to))
}

/** Runs the doctor in `dir`; `env` entries set to undefined are removed. */
function doctor (dir: string, args: string[] = [], env: Record<string, string | undefined> = {}) {
  const merged: Record<string, string> = {}
  for (const [k, v] of Object.entries({ ...process.env, ...env })) if (v !== undefined) merged[k] = v
  const run = spawnSync(process.execPath, ['lab/bootstrap.mjs', 'doctor', ...args], { cwd: dir, env: merged, encoding: 'utf8', timeout: 30_000 })
  const lines = run.stdout.split('\n').filter(Boolean)
  /** The one output line that contains `text`. */
  const line = (text: string) => {
    const found = lines.filter((l) => l.includes(text))
    expect(found, `one line with "${text}" in:\n${run.stdout}${run.stderr}`).toHaveLength(1)
    return found[0]!
  }
  return { status: run.status, stdout: run.stdout, stderr: run.stderr, lines, line }
}

describe('npm run doctor', () => {
  it('a healthy project: one ok line per check, in order, exit code 0', async () => {
    const { dir, appPort } = await copyProject()
    const run = spawnSync('npm', ['run', '--silent', 'doctor'], { cwd: dir, encoding: 'utf8', timeout: 30_000 })
    const lines = run.stdout.split('\n').filter(Boolean)
    expect(lines.map((l) => l.split(/\s+/)[0]), run.stdout + run.stderr).toEqual(Array(9).fill('ok'))
    expect(lines.map((l) => l.slice(9).split(/[ :]/)[0])).toEqual(
      ['Node.js', 'npm', 'Dapr', 'Dapr', 'broker', 'state', 'ports', 'no', 'component'])
    expect(run.stdout).toContain(`ok       Node.js ${process.versions.node} (>=20.19)`)
    expect(run.stdout).toMatch(/ok {7}Dapr runtime: daprd \d+\.\d+\.\d+ at \S+\/\.dapr\/bin\/daprd \(/)
    expect(run.stdout).toContain('ok       broker: Redis (pubsub.redis, components/redis.yaml) answers on localhost:6379')
    expect(run.stdout).toContain(`ok       ports free: ${appPort} (order-processor appPort)`)
    expect(run.status).toBe(0)
  })

  it('a port the run needs is held: names the process that holds it, exit code 1', async () => {
    const { dir, appPort } = await copyProject()
    const server: Server = createServer()
    await new Promise<void>((resolve) => server.listen(appPort, '127.0.0.1', resolve))
    try {
      const run = doctor(dir)
      expect(run.line(`port ${appPort}`)).toMatch(new RegExp(
        `^problem  port ${appPort} \\(order-processor appPort\\) is in use by pid ${process.pid} \\(.+\\) — fix: stop that process \\(\`kill ${process.pid}\`\\)$`))
      expect(run.status).toBe(1)
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })

  it('a broker at an address that does not answer: a problem, exit code 1', async () => {
    const { dir } = await copyProject()
    // TEST-NET-1 (RFC 5737): nothing ever answers there.
    edit(dir, 'components/redis.yaml', 'value: localhost:6379', 'value: 192.0.2.1:6379')
    const run = doctor(dir)
    expect(run.line('broker:')).toMatch(/^problem  broker: Redis at 192\.0\.2\.1:6379 \(redisHost in components\/redis\.yaml\) does not answer: .+ — fix: start it there, or set redisHost in components\/redis\.yaml to where it runs/)
    expect(run.line('state store:')).toMatch(/^ok/)
    expect(run.status).toBe(1)
  })

  it('the lab\'s own broker is not running: npm start will start it, exit code 0', async () => {
    const { dir } = await copyProject()
    // The copy's lab Redis listens on a port where nothing runs (lab/settings.ts says where).
    const port = await freePort()
    edit(dir, 'lab/settings.ts', 'redis: 6379,', `redis: ${port},`)
    edit(dir, 'components/redis.yaml', 'value: localhost:6379', `value: localhost:${port}`)
    edit(dir, 'components/statestore.yaml', 'value: localhost:6379', `value: localhost:${port}`)
    const run = doctor(dir)
    expect(run.line('broker:')).toBe(`warn     broker: Redis is not running on localhost:${port} (connection refused); \`npm start\` will start it`)
    expect(run.line('state store:')).toBe(`warn     state store: Redis is not running on localhost:${port} (connection refused); \`npm start\` will start it`)
    expect(run.status).toBe(0)
  })

  it('a local broker address that npm start does not provision: a problem, exit code 1', async () => {
    const { dir } = await copyProject()
    const port = await freePort()
    edit(dir, 'components/redis.yaml', 'value: localhost:6379', `value: localhost:${port}`)
    const run = doctor(dir)
    expect(run.line('broker:')).toBe(`problem  broker: nothing answers on localhost:${port} (redisHost in components/redis.yaml: connection refused), ` +
      `and \`npm start\` starts the lab's Redis on port 6379 only — fix: start Redis on port ${port} yourself, or set redisHost in components/redis.yaml to localhost:6379`)
    expect(run.status).toBe(1)
  })

  it('the broker chosen with --broker is the one checked', async () => {
    const { dir } = await copyProject()
    const run = doctor(dir, ['--broker', 'kafka'])
    // Running or not, Kafka is the lab's own: either way nothing blocks.
    expect(run.line('broker:')).toMatch(/^(ok {7}broker: Kafka \(pubsub\.kafka, brokers\/kafka\.yaml\) answers on 127\.0\.0\.1:9092|warn {5}broker: Kafka is not running on 127\.0\.0\.1:9092 .*`npm start` will start it)$/)
    expect(run.line('component files:')).toContain("pub/sub 'orderpubsub' is pubsub.kafka (brokers/kafka.yaml)")
    expect(run.status).toBe(0)
  })

  it('an unknown --broker: the plan\'s message, exit code 1', async () => {
    const { dir } = await copyProject()
    const run = doctor(dir, ['--broker', 'nosuch'])
    expect(run.line('Unknown broker')).toMatch(/^problem  Unknown broker "nosuch"\. Known brokers: jetstream, kafka, mqtt, rabbitmq, redis/)
    expect(run.status).toBe(1)
  })

  it('a component file that is not valid YAML: file:line:column and the parser\'s words, exit code 1', async () => {
    const { dir } = await copyProject()
    edit(dir, 'components/statestore.yaml', '  version: v1\n', '  version: v1\n\tbroken: tab\n')
    const line = readFileSync(join(dir, 'components', 'statestore.yaml'), 'utf8').split('\n').indexOf('\tbroken: tab') + 1
    const run = doctor(dir)
    expect(run.line('statestore.yaml:')).toBe(`problem  components/statestore.yaml:${line}:1: Tabs are not allowed as indentation — fix: correct line ${line} of components/statestore.yaml (YAML: spaces, not tabs; \`key: value\`)`)
    expect(run.status).toBe(1)
  })

  it('a pub/sub component with another name than the apps use: says to rename it, exit code 1', async () => {
    const { dir } = await copyProject()
    edit(dir, 'components/redis.yaml', 'name: orderpubsub', 'name: order-pubsub')
    const run = doctor(dir)
    expect(run.line('components/redis.yaml:')).toBe("problem  components/redis.yaml: the pub/sub component is named 'order-pubsub', " +
      "but the apps publish and subscribe to 'orderpubsub' — fix: rename metadata.name in components/redis.yaml to orderpubsub")
    expect(run.line('broker:')).toBe('warn     broker: not checked until the component files (below) are fixed')
    expect(run.status).toBe(1)
  })

  it('no Dapr runtime and no Go to build one: a problem with the fix, exit code 1', async () => {
    const { dir } = await copyProject()
    const home = tempDir('dapr-lab-home-')
    const bin = tempDir('dapr-lab-bin-') // a PATH without go and without dapr
    const env = { HOME: home, DAPR_RUNTIME_PATH: tempDir('dapr-lab-runtime-'), XDG_CACHE_HOME: undefined, DAPR_LAB_CACHE: undefined, PATH: bin }
    const run = doctor(dir, [], env)
    expect(run.line('Dapr runtime')).toMatch(new RegExp(`^problem  Dapr runtime not found \\(looked in .*, ${home}/\\.dapr/bin, ${home}/\\.cache/dapr-pubsub-lab/dapr-[\\d.]+/\\.dapr/bin\\), ` +
      'and Go is not installed to build one — fix: install the Dapr CLI .* and run `dapr init --slim`, or install Go 1\\.26\\+ so that `npm start` builds it$'))
    expect(run.status).toBe(1)

    // With Go on the PATH, npm start builds daprd: worth knowing, but nothing blocks.
    mkdirSync(join(bin, 'with-go'))
    writeFileSync(join(bin, 'with-go', 'go'), '#!/bin/sh\nexit 0\n')
    chmodSync(join(bin, 'with-go', 'go'), 0o755)
    const withGo = doctor(dir, [], { ...env, PATH: join(bin, 'with-go') })
    expect(withGo.line('Dapr runtime')).toMatch(/^warn {5}Dapr runtime not found \(looked in .*\) — fix: none needed: `npm start` builds it once with Go/)
    expect(withGo.status).toBe(0)
  })

  it('lab processes of an earlier run: listed with their pids and `npm run stop`, not blocking', async () => {
    const { dir } = await copyProject()
    // Looks like a left-over runner of the copy (the project's runner, in its command line).
    const leftover = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', join(dir, 'lab', 'run', 'multi-app-run.ts')], { stdio: 'ignore' })
    try {
      await until('the left-over process to start', () => leftover.pid !== undefined, 5_000)
      const run = doctor(dir)
      expect(run.line('lab process')).toMatch(new RegExp(`^warn {5}1 lab process is already running .*: pid ${leftover.pid} \\(node -e setInterval.*\\) — fix: \`npm run stop\`$`))
      expect(run.status).toBe(0)
      // The project in REPO is another project: the copy's left-overs are not its business.
      expect(doctor(REPO).stdout).not.toContain(`pid ${leftover.pid}`)
    } finally {
      leftover.kill('SIGKILL')
    }
  })
})

describe('npm start runs the doctor first', () => {
  it('stops early with the doctor\'s message and a non-zero exit code, without a stack trace', async () => {
    const { dir } = await copyProject()
    edit(dir, 'components/redis.yaml', 'name: orderpubsub', 'name: order-pubsub')
    const topic = uniqueTopic()
    const run = await runTracked('npm', ['start'], { cwd: dir, env: { ...process.env, ORDERS_TOPIC: topic } })
    expect(run.status, run.stdout + run.stderr).not.toBe(0)
    expect(run.stderr).toContain("problem  components/redis.yaml: the pub/sub component is named 'order-pubsub', but the apps publish and subscribe to 'orderpubsub' — fix: rename metadata.name in components/redis.yaml to orderpubsub")
    expect(run.stderr).toContain('[lab] npm start stopped before starting anything')
    // Nothing else was attempted, and nothing crashed.
    expect(run.stderr).not.toContain('[lab] broker:')
    expect(run.stdout + run.stderr).not.toMatch(/^\s+at /m)
    expect(run.left).toEqual([])
  })
})
