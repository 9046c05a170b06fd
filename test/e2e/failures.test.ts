// Failures that must end quickly with a message that says what to do, not a hang.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { REPO, processesOf, uniqueTopic } from './lab.ts'

describe('clear failures', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dapr-lab-fail-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('a broken component: the sidecar exits, its errors and log path are shown, the run stops with code 1', () => {
    writeFileSync(join(dir, 'bad.yaml'), [
      'apiVersion: dapr.io/v1alpha1', 'kind: Component', 'metadata:', '  name: orderpubsub',
      'spec:', '  type: pubsub.nosuchbroker', '  version: v1', '  metadata: []', ''
    ].join('\n'))
    writeFileSync(join(dir, 'dapr.yaml'), [
      'version: 1', 'common:', `  resourcesPath: ${dir}`, 'apps:',
      '  - appID: order-processor', `    appDirPath: ${join(REPO, 'subscriber')}`, '    appPort: 6001',
      '    command: ["node", "--import", "tsx", "src/server.ts"]', ''
    ].join('\n'))
    const topic = uniqueTopic()
    const run = spawnSync('node', ['--import', 'tsx', join(REPO, 'scripts', 'multi-app-run.ts'), join(dir, 'dapr.yaml')], {
      cwd: REPO, env: { ...process.env, ORDERS_TOPIC: topic }, encoding: 'utf8', timeout: 60_000
    })
    expect(run.status).toBe(1)
    expect(run.stdout).toMatch(/== DAPR - order-processor == daprd exited \(code 1\)\. Its log: .*order-processor_daprd_\d+\.log/)
    expect(run.stdout).toMatch(/Failed to init component orderpubsub \(pubsub\.nosuchbroker\/v1\)/)
    expect(processesOf(topic)).toEqual([])
  })

  it('an unknown broker name: npm start stops at once and lists the known ones', () => {
    const run = spawnSync('npm', ['start', '--', '--broker', 'nosuch'], { cwd: REPO, encoding: 'utf8', timeout: 60_000 })
    expect(run.status).not.toBe(0)
    expect(run.stderr).toContain('Unknown broker "nosuch". Known brokers: jetstream, kafka, mqtt, rabbitmq, redis')
  })
})
