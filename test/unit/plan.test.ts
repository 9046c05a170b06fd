import { describe, expect, it } from 'vitest'
import { chooseRunner, makePlan, parsePlanArgs } from '../../lab/plan.ts'
import { LabError, REPO } from '../../lab/settings.ts'

const plan = (argv: string[], env: NodeJS.ProcessEnv = { LAB_RUNNER: 'project' }) => makePlan(parsePlanArgs(argv), env)

describe('a run\'s plan (lab/plan.ts)', () => {
  it('npm start: dapr.yaml as it is, Redis as broker and state store', () => {
    const p = plan([])
    expect(p.runFile).toBe(`${REPO}/dapr.yaml`)
    expect(p.derived).toBeUndefined()
    expect(p.broker).toBe('redis')
    expect(p.services).toEqual(['redis'])
    expect(p.apps.map((a) => a.appID)).toEqual(['order-processor', 'checkout'])
    expect(p.topic).toBe('orders')
  })

  it('--broker kafka --tracing: a derived run file, Kafka started first, Redis for the ledger, then Zipkin', () => {
    const p = plan(['--broker', 'kafka', '--tracing'])
    expect(p.brokerFile).toBe(`${REPO}/brokers/kafka.yaml`)
    expect(p.runFile).toMatch(/\/\.dapr\/runs\/kafka\/dapr\.yaml$/)
    expect(p.services).toEqual(['kafka', 'redis', 'zipkin'])
  })

  it('--instances 3: three order-processors under one app id, on ports 6001, 6011, 6021', () => {
    const p = plan(['--instances', '3'])
    const ops = p.apps.filter((a) => a.appID === 'order-processor')
    expect(ops.map((a) => a.appPort)).toEqual([6001, 6011, 6021])
    expect(ops.map((a) => a.env?.INSTANCE)).toEqual(['1', '2', '3'])
  })

  it('--fanout and --app: the shipping app before the checkout; only the apps named', () => {
    expect(plan(['--fanout']).apps.map((a) => a.appID)).toEqual(['order-processor', 'shipping', 'checkout'])
    expect(plan(['--app', 'checkout']).apps.map((a) => a.appID)).toEqual(['checkout'])
  })

  it('the topic of ORDERS_TOPIC, and the tokens the sidecars need', () => {
    const p = plan([], { LAB_RUNNER: 'project', ORDERS_TOPIC: 'x', APP_API_TOKEN: 'a' })
    expect(p.topic).toBe('x')
    expect(p.sidecarEnv).toEqual({ APP_API_TOKEN: 'a' })
  })

  it('what cannot be planned is a LabError that says what to do', () => {
    expect(() => plan(['--broker', 'nosuch'])).toThrow(new LabError('Unknown broker "nosuch". Known brokers: jetstream, kafka, mqtt, rabbitmq, redis (one component file each in components/ or brokers/).'))
    expect(() => plan(['--app', 'nosuch'])).toThrow(/Unknown app nosuch; dapr.yaml has order-processor, checkout/)
    expect(() => plan(['--instances', '0'])).toThrow(/--instances takes a whole number from 1 to 9/)
    expect(() => plan(['--no-such-flag'])).toThrow(/usage: npm start/)
  })

  it('the runner: the Dapr CLI when one is named or on PATH, else the project\'s; LAB_RUNNER chooses outright', () => {
    expect(chooseRunner({ PATH: '' })).toEqual({ kind: 'project' })
    expect(chooseRunner({ PATH: '', DAPR_CLI: '/opt/dapr' })).toEqual({ kind: 'cli', dapr: '/opt/dapr' })
    expect(chooseRunner({ PATH: '', DAPR_CLI: '/opt/dapr', LAB_RUNNER: 'project' })).toEqual({ kind: 'project' })
    expect(() => chooseRunner({ PATH: '', LAB_RUNNER: 'cli' })).toThrow(/no Dapr CLI was found/)
  })
})
