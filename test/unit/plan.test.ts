import { describe, expect, it } from 'vitest'
import { chooseRunner, makePlan, parsePlanArgs, withOwnPorts } from '../../lab/plan.ts'
import { ROSTER, appsOf, rosterProblems } from '../../lab/roster.ts'
import { OWN_PORTS } from '../../lab/ports.ts'
import { readRunFile } from '../../lab/run-file.ts'
import { BUILD } from '../../lab/build.ts'
import { LabError, REPO } from '../../lab/settings.ts'
import { SHOP_APPS, componentScopes, subscriptionResources } from '../../shop/topology.ts'

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

  it('each way to subscribe reaches the apps as SUBSCRIPTIONS or BULK_SUBSCRIBE; --prod runs the compiled apps on plain node, logging JSON', () => {
    expect(plan(['--declarative']).derived?.spec.common?.env).toMatchObject({ SUBSCRIPTIONS: 'declarative' })
    expect(plan(['--streaming']).derived?.spec.common?.env).toMatchObject({ SUBSCRIPTIONS: 'streaming' })
    expect(plan(['--bulk']).derived?.spec.common?.env).toMatchObject({ BULK_SUBSCRIBE: 'true' })
    expect(plan(['--bulk']).notes, 'Redis: Dapr batches, and stalls after a crash').toEqual([expect.stringMatching(/^note: Redis has no bulk subscribe of its own.*until the next `npm start`/)])
    expect(plan(['--bulk', '--broker', 'kafka']).notes, 'Kafka batches natively').toEqual([])
    expect(plan([]).notes).toEqual([])
    const prod = plan(['--prod'])
    expect(prod.derived?.spec.common?.env).toMatchObject({ LOG_FORMAT: 'json' })
    expect(prod.apps.map((a) => a.command)).toEqual([['node', `${BUILD}/subscriber/src/server.js`], ['node', `${BUILD}/publisher/src/main.js`]])
  })

  it('--routing, --ttl and --outbox reach the apps as PRIORITY_ROUTING, ORDER_TTL_SECONDS and OUTBOX, each run in its own folder', () => {
    const p = plan(['--declarative', '--routing', '--ttl', '30'])
    expect(p.derived?.spec.common?.env).toMatchObject({ SUBSCRIPTIONS: 'declarative', PRIORITY_ROUTING: 'true', ORDER_TTL_SECONDS: '30' })
    expect(p.runFile).toMatch(/\/\.dapr\/runs\/redis-declarative-routing-ttl30\/dapr\.yaml$/)
    expect(plan(['--outbox']).derived?.spec.common?.env).toMatchObject({ OUTBOX: 'true' })
  })

  it('--shop: billing, notification and shipping before the order service, on shop- topics given to every app', () => {
    const p = plan(['--shop'])
    expect(p.apps.map((a) => [a.appID, a.appPort])).toEqual([['billing', 6004], ['notification', 6005], ['shipping', 6002], ['order', 6003]])
    expect([p.topic, p.billsTopic]).toEqual(['shop-orders', 'shop-bills'])
    expect(p.derived?.spec.common?.env).toMatchObject({ SUBSCRIPTIONS: 'declarative', ORDERS_TOPIC: 'shop-orders', BILLS_TOPIC: 'shop-bills' })
  })

  it('the shop\'s scopes: each app publishes and receives only its flows (and the dead letters of what it receives)', () => {
    expect(componentScopes({ orders: 'o', bills: 'b' })).toEqual({
      publishingScopes: 'order=o,b-deadletter;billing=o-deadletter,b;notification=o-deadletter;shipping=o-deadletter',
      subscriptionScopes: 'order=b,b-deadletter;billing=o,o-deadletter;notification=o,o-deadletter;shipping=o,o-deadletter'
    })
    const subs = subscriptionResources({ orders: 'o', bills: 'b' }) as Array<{ spec: { topic: string }, scopes: string[] }>
    expect(subs.map((s) => [s.spec.topic, s.scopes])).toEqual([
      ['o', ['billing', 'notification', 'shipping']], ['o-deadletter', ['billing', 'notification', 'shipping']], ['b', ['order']], ['b-deadletter', ['order']]
    ])
  })

  it('options that cannot go together are refused, saying why', () => {
    expect(() => plan(['--streaming', '--bulk'])).toThrow(/--streaming and --bulk are different ways to subscribe: choose one/)
    expect(() => plan(['--routing', '--streaming'])).toThrow(/a stream has one route for all/)
    expect(() => plan(['--routing', '--bulk'])).toThrow(/a bulk subscription has one route for all/)
    expect(() => plan(['--ttl', '30', '--outbox'])).toThrow(/Choose one/)
    expect(() => plan(['--ttl', '0'])).toThrow(/--ttl takes a whole number of seconds/)
    expect(() => plan(['--shop', '--fanout', '--instances', '2'])).toThrow('--shop runs the four services of shop/ as they are; it does not combine with --fanout, --instances.')
  })

  it('LAB_RUN=<name>: a run file in its own folder, and its apps on free ports of their own, none of dapr.yaml\'s', async () => {
    const named = plan(['--fanout'], { LAB_RUNNER: 'project', LAB_RUN: 'side-by-side' })
    expect(named.name).toBe('side-by-side')
    expect(named.runFile).toBe(`${REPO}/.dapr/named-runs/side-by-side/dapr.yaml`)
    const own = await withOwnPorts(named)
    const ports = own.apps.flatMap((a) => a.appPort ?? [])
    expect(own.apps.map((a) => a.appID)).toEqual(['order-processor', 'shipping', 'checkout'])
    expect(ports).toHaveLength(2)
    expect(new Set(ports).size).toBe(2)
    for (const port of ports) expect(ROSTER.map((a) => a.port)).not.toContain(port)
    // Below the system's ephemeral ports: nothing else is given one of them meanwhile.
    for (const port of ports) expect(port >= OWN_PORTS[0] && port < OWN_PORTS[1], String(port)).toBe(true)
    expect(own.derived!.spec.apps.map((a) => a.appPort)).toEqual(own.apps.map((a) => a.appPort))
    // An unnamed run keeps dapr.yaml's ports.
    expect((await withOwnPorts(plan(['--fanout']))).apps.map((a) => a.appPort)).toEqual([6001, 6002, undefined])
  })

  it('LAB_RUN=<name>: its apps run in folders of its own, where their logs go (both runners), and start the same entries', () => {
    const named = plan(['--fanout'], { LAB_RUNNER: 'project', LAB_RUN: 'side-by-side' })
    const folder = `${REPO}/.dapr/named-runs/side-by-side/apps`
    expect(named.apps.map((a) => [a.appID, a.appDirPath])).toEqual([['order-processor', `${folder}/subscriber`], ['shipping', `${folder}/shipping`], ['checkout', `${folder}/publisher`]])
    expect(named.apps.map((a) => a.command)).toEqual([
      ['node', '--import', 'tsx', `${REPO}/subscriber/src/server.ts`],
      ['node', '--import', 'tsx', `${REPO}/shipping/src/server.ts`],
      ['node', '--import', 'tsx', `${REPO}/publisher/src/main.ts`]
    ])
    expect(plan(['--fanout']).apps.map((a) => a.appDirPath)).toEqual([`${REPO}/subscriber`, `${REPO}/shipping`, `${REPO}/publisher`])
  })

  it('LAB_RUN must be a plain name: it names a folder', () => {
    expect(() => plan([], { LAB_RUNNER: 'project', LAB_RUN: '../elsewhere' })).toThrow(LabError)
  })
})

describe('the roster (lab/roster.ts)', () => {
  it('agrees with dapr.yaml, the user\'s file: the same apps, folders, entries and ports', () => {
    expect(rosterProblems(readRunFile())).toEqual([])
  })

  it('runs the shop\'s apps, the ones shop/topology.ts gives flows and scopes to, the order service last', () => {
    expect(appsOf('shop').map((a) => a.appID).sort()).toEqual([...SHOP_APPS].sort())
    expect(appsOf('shop').at(-1)?.appID).toBe('order')
  })

  it('says where a run file disagrees with it', () => {
    const lab = readRunFile()
    const [op, checkout] = lab.apps
    expect(rosterProblems({ apps: [{ ...op!, appPort: 7001 }, { ...checkout!, command: ['node', 'src/other.ts'] }, { appID: 'payments' }] })).toEqual([
      'order-processor: appPort 7001, the roster says 6001',
      'checkout: command ["node","src/other.ts"], the roster\'s entry is src/main.ts',
      'app payments is not one of the lab\'s (lab/roster.ts)'
    ])
    expect(rosterProblems({ apps: [op!] })).toEqual(['checkout is missing'])
  })
})
