// Failures that must end quickly with a message that says what to do, not a hang.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runAppDir } from '../../lab/run/place.ts'
import { RUNNER } from '../../lab/run/supervise.ts'
import { findDaprRuntime } from '../../lab/services/dapr-runtime.ts'
import { REPO, portIsFree, runTracked, uniqueTopic } from './lab.ts'
import { freePort } from '../../lab/ports.ts'

describe('clear failures', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dapr-lab-fail-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  /** Runs the order-processor alone with one pub/sub component, the way npm start would. */
  async function runWith (component: string[], command = `["node", "--import", "tsx", "${join(REPO, 'subscriber', 'src', 'server.ts')}"]`, env: Record<string, string> = {}) {
    // A port, a run name and a folder of its own (for its logs, as a named run's:
    // lab/run/place.ts): other tests' runs go on beside this one, and LAB.md's read the
    // newest logs in subscriber/.dapr/logs.
    const appPort = await freePort()
    const topic = uniqueTopic()
    const appDir = runAppDir('subscriber', topic)
    mkdirSync(appDir, { recursive: true })
    writeFileSync(join(dir, 'pubsub.yaml'), [
      'apiVersion: dapr.io/v1alpha1', 'kind: Component', 'metadata:', '  name: orderpubsub', 'spec:', ...component, ''
    ].join('\n'))
    writeFileSync(join(dir, 'dapr.yaml'), [
      'version: 1', 'common:', `  resourcesPath: ${dir}`, 'apps:',
      '  - appID: order-processor', `    appDirPath: ${appDir}`, `    appPort: ${appPort}`, `    command: ${command}`, ''
    ].join('\n'))
    const run = await runTracked(process.execPath, ['--import', 'tsx', RUNNER, join(dir, 'dapr.yaml')], {
      cwd: REPO, env: { ...process.env, DAPR_RUNTIME_PATH: findDaprRuntime()!.root, ORDERS_TOPIC: topic, LAB_RUN: topic, ...env }
    })
    return { run, appPort }
  }
  const redisAt = (host: string) => ['  type: pubsub.redis', '  version: v1', '  metadata:', '    - name: redisHost', `      value: ${host}`]

  it('a broken component: the sidecar exits, its errors and log path are shown, the run stops with code 1', async () => {
    const { run } = await runWith(['  type: pubsub.nosuchbroker', '  version: v1', '  metadata: []'])
    expect(run.status).toBe(1)
    expect(run.stdout).toMatch(/== DAPR - order-processor == daprd exited \(code 1\)\. Its log: .*order-processor_daprd_\d+\.log/)
    expect(run.stdout).toMatch(/Cause: component orderpubsub \(pubsub\.nosuchbroker\/v1\) failed to initialise/)
    expect(run.stdout).toMatch(/Failed to init component orderpubsub \(pubsub\.nosuchbroker\/v1\)/)
    expect(run.left).toEqual([])
  })

  it('a broker that is down: the run stops with code 1 and names the address that refused', async () => {
    const port = 6390
    expect(await portIsFree(port)).toBe(true)
    const { run } = await runWith(redisAt(`127.0.0.1:${port}`))
    expect(run.status).toBe(1)
    expect(run.stdout).toContain(`Cause: component orderpubsub (pubsub.redis/v1) cannot reach 127.0.0.1:${port} (connect: connection refused): is the broker running there?`)
    expect(run.stdout).toMatch(/daprd exited \(code 1\)\. Its log: .*order-processor_daprd_\d+\.log/)
    expect(run.left).toEqual([])
  })

  it('a sidecar that never gets ready (its app never listens): the run stops after the deadline and says why', async () => {
    const { run, appPort } = await runWith(redisAt('localhost:6379'), '["node", "-e", "setInterval(() => {}, 1000)"]', { LAB_SIDECAR_TIMEOUT_S: '3' })
    expect(run.status, run.stdout + run.stderr).toBe(1)
    expect(run.stdout).toMatch(new RegExp(`== DAPR - order-processor == not ready after 3 s: it is still waiting for the app to listen on port ${appPort} .*Its log: .*order-processor_daprd_\\d+\\.log`))
    expect(run.left).toEqual([])
  })

  it('an unknown broker name: npm start stops at once and lists the known ones', async () => {
    const run = await runTracked('npm', ['start', '--', '--broker', 'nosuch'], { cwd: REPO })
    expect(run.status).not.toBe(0)
    expect(run.stderr).toContain('Unknown broker "nosuch". Known brokers: jetstream, kafka, mqtt, rabbitmq, redis')
  })
})
