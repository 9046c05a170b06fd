// `npm run lab:check -- N`: checks the result of exercise N of LAB.md from what the last
// run left behind (the apps' and sidecars' log files, Redis, Zipkin) and says what is
// wrong when it is not right. One line per check; exit code 1 when one fails.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '../../shared/config.ts'
import { allAcceptedLine, instanceOf, isDeadLetterLine, isOutboxLine, isPoisonPublishedLine, isPriorityLine, isPublishedLine, isTtlLine, receivedOrderIds } from '../../shared/log-lines.ts'
import { orderProblem } from '../../shared/order.ts'
import { deadLetterTopic, isPriority, outboxKey, PUBSUB_NAME } from '../../shared/pubsub.ts'
import { makeOrder } from '../../shared/order.ts'
import { labEnv } from '../plan.ts'
import { readRunFile } from '../run-file.ts'
import { runState } from '../run/supervise.ts'
import { cloudEventOf, withRedis, type StreamEntry } from '../redis.ts'
import { logsNewestFirst, newestLog, recentLogs, startedAt } from '../run/logs.ts'
import { renderOverlay } from '../services/kustomize.ts'
import { REPO } from '../settings.ts'
import { ORDER_PROCESSOR_PORT } from '../roster.ts'
import { ZIPKIN_URL } from '../services/zipkin.ts'

const env = labEnv()
/** The order-processor's port in the run going on: its run file says (a named run's ports are its own). */
const orderProcessorPort = () => readRunFile(runState()?.runFile).apps.find((a) => a.appID === 'order-processor')?.appPort ?? ORDER_PROCESSOR_PORT
const { topic, orderCount, billsTopic } = loadConfig(env)

interface Check { ok: boolean, what: string, fix?: string }
const results: Check[] = []
function verify (ok: boolean, what: string, fix?: string): boolean {
  results.push({ ok, what, fix })
  return ok
}

const read = (file: string | undefined) => file ? readFileSync(file, 'utf8').split('\n') : []
const receivedIn = receivedOrderIds
const all = Array.from({ length: orderCount }, (_, i) => i + 1)

/** Each of orderId 1..ORDER_COUNT exactly once in `ids`. */
function eachOnce (ids: number[], where: string): boolean {
  const missing = all.filter((id) => !ids.includes(id))
  const twice = [...new Set(ids.filter((id, i) => ids.indexOf(id) !== i))]
  return verify(missing.length === 0 && twice.length === 0,
    `${where}: orders 1..${orderCount} processed exactly once (${new Set(ids).size} distinct, ${ids.length} in all)`,
    missing.length > 0 ? `missing ${missing.join(', ')}: let the run finish (the checkout says "All ${orderCount} orders were accepted"), then check again` : `processed twice: ${twice.join(', ')}`)
}

function checkoutFinished (lines = read(newestLog('publisher', 'checkout', 'app'))): boolean {
  return verify(lines.some((l) => l.includes(allAcceptedLine(orderCount))),
    'the checkout published every order', 'run `npm start` and wait for "All … orders were accepted by Dapr."')
}

/** A Redis call, or undefined when Redis does not answer. */
const redis = <T>(call: Parameters<typeof withRedis<T>>[0]) => withRedis(call).catch(() => undefined)

async function getJson (url: string): Promise<unknown> {
  const res = await fetch(url, { headers: env.APP_API_TOKEN ? { 'dapr-api-token': env.APP_API_TOKEN } : {} })
  if (!res.ok) throw new Error(`${url} answered ${res.status}`)
  return res.json()
}

const exercises: Record<number, () => Promise<void> | void> = {
  // 1. Run the lab and read the expected output.
  1 () {
    checkoutFinished()
    eachOnce(receivedIn(read(newestLog('subscriber', 'order-processor', 'app'))), 'order-processor')
  },

  // 2. Look inside: the subscription answer and one CloudEvent as delivered.
  async 2 () {
    const subs = await getJson(`http://127.0.0.1:${orderProcessorPort()}/dapr/subscribe`).catch(() => undefined) as Array<{ topic: string, route: string, deadLetterTopic?: string }> | undefined
    if (!verify(subs !== undefined, 'the order-processor answers GET /dapr/subscribe', 'keep `npm start` running while you check')) return
    verify(subs!.some((s) => s.topic === topic && s.route === '/orders' && s.deadLetterTopic === deadLetterTopic(topic)),
      `it subscribes to ${topic} (route /orders, dead letters to ${deadLetterTopic(topic)}): ${JSON.stringify(subs)}`)
    const [last] = await redis((r) => r.xrevrange(topic, '+', '-', 'COUNT', 1) as Promise<StreamEntry[]>) ?? []
    if (!verify(last !== undefined, `the ${topic} stream in Redis holds an order`, 'run the lab first (exercise 1)')) return
    const event = cloudEventOf(last!) ?? {}
    verify(event.specversion === '1.0' && event.type === 'com.dapr.event.sent' && event.pubsubname === PUBSUB_NAME && orderProblem(event.data) === undefined,
      `the last one is a CloudEvent (specversion ${String(event.specversion)}, type ${String(event.type)}, source ${String(event.source)}) around an order: ${JSON.stringify(event.data)}`)
  },

  // 3. Swap Redis for Kafka.
  3 () {
    const sidecar = read(newestLog('subscriber', 'order-processor', 'daprd'))
    verify(sidecar.some((l) => l.includes(`Component loaded: ${PUBSUB_NAME} (pubsub.kafka/v1)`)),
      'the last run\'s order-processor sidecar loaded orderpubsub as pubsub.kafka',
      'move components/redis.yaml to brokers/ and brokers/kafka.yaml to components/, or run `npm start -- --broker kafka`')
    checkoutFinished()
    eachOnce(receivedIn(read(newestLog('subscriber', 'order-processor', 'app'))), 'order-processor on Kafka')
  },

  // 4. Scale the order-processor to 3 instances. Each instance names itself in its lines
  // (order-processor#N); the project's runner gives each a log file of its own, the Dapr
  // CLI may write two into one: so the lines of the last run's logs count, not the files.
  4 () {
    const lines = recentLogs('subscriber', /^order-processor(-\d+)?_app_/).flatMap(read)
    const of = (n: number) => lines.filter((l) => instanceOf(l, 'order-processor') === n)
    if (!verify([1, 2, 3].every((n) => of(n).length > 0), 'three order-processor instances ran', 'run `npm start -- --instances 3`')) return
    const perInstance = [1, 2, 3].map((n) => receivedIn(of(n)))
    eachOnce(perInstance.flat(), 'the three instances together')
    verify(perInstance.filter((ids) => ids.length > 0).length >= 2,
      `the orders were shared out: ${perInstance.map((ids, i) => `#${i + 1}: ${ids.length}`).join(', ')}`)
  },

  // 5. Kill the order-processor mid-run: redelivery, nothing lost.
  5 () {
    const restarted = newestLog('subscriber', 'order-processor-restarted', 'app')
    const first = newestLog('subscriber', 'order-processor', 'app')
    if (!verify(restarted !== undefined && first !== undefined && startedAt(restarted) >= startedAt(first),
      'the order-processor was killed and started again during the last run', 'while `npm start` runs, run `npm run lab:crash`')) return
    checkoutFinished()
    const before = receivedIn(read(first))
    const after = receivedIn(read(restarted))
    verify(after.length > 0, `the restarted order-processor processed ${after.length} order(s) that were waiting or redelivered`)
    eachOnce([...before, ...after], 'before and after the crash')
  },

  // 6. Send a poison order and find it in the dead-letter topic.
  async 6 () {
    const poison = read(newestLog('publisher', 'checkout', 'app')).filter(isPoisonPublishedLine)
    if (!verify(poison.length > 0, `the checkout sent ${poison.length} poison order(s)`, 'run `POISON_EVERY=5 npm start`')) return
    const dead = read(newestLog('subscriber', 'order-processor', 'app')).filter(isDeadLetterLine)
    verify(dead.length === poison.length, `the order-processor logged ${dead.length} dead letter(s) for ${poison.length} poison order(s)`, 'let the run finish')
    const inTopic = await redis((r) => r.xlen(deadLetterTopic(topic))) ?? 0
    verify(inTopic >= poison.length, `${deadLetterTopic(topic)} holds ${inTopic} message(s) in Redis`)
    eachOnce(receivedIn(read(newestLog('subscriber', 'order-processor', 'app'))), 'the valid orders')
  },

  // 7. Open the trace of one order in Zipkin.
  async 7 () {
    const line = read(newestLog('subscriber', 'order-processor', 'app')).find((l) => /Subscriber received: .*\(trace [0-9a-f]{32}\)/.test(l))
    if (!verify(line !== undefined, 'the order-processor logged a trace id', 'run `npm start -- --tracing`')) return
    const traceId = /\(trace ([0-9a-f]{32})\)/.exec(line!)![1]!
    const spans = await getJson(`${ZIPKIN_URL}/api/v2/trace/${traceId}`).catch(() => undefined) as Array<{ localEndpoint?: { serviceName?: string }, name?: string }> | undefined
    if (!verify(spans !== undefined, `Zipkin has trace ${traceId}`, 'keep `npm start -- --tracing` running (Zipkin keeps traces in memory), and give it 5 s')) return
    const services = new Set(spans!.map((s) => s.localEndpoint?.serviceName))
    verify(services.has('checkout') && services.has('order-processor'),
      `it holds spans from both sidecars: ${spans!.map((s) => `${s.localEndpoint?.serviceName} ${s.name}`).join('; ')}`)
    console.log(`open ${ZIPKIN_URL}/zipkin/traces/${traceId}`)
  },

  // 8. Read the Kubernetes manifests: what the cluster runs matches the local run.
  async 8 () {
    const rendered = await renderOverlay(join(REPO, 'deploy', 'overlays', 'redis'))
    verify(rendered.includes('dapr.io/app-id: order-processor') && rendered.includes('dapr.io/app-port: "6001"'),
      'deploy/overlays/redis renders an order-processor Deployment with the same app id and port as dapr.yaml')
    verify(/kind: Subscription[\s\S]*pubsubname: orderpubsub/.test(rendered), 'and a declarative Subscription on orderpubsub (subscriptions/ in the local run)')
    verify(/kind: HorizontalPodAutoscaler/.test(rendered), 'and an autoscaler: instances come and go, one consumer group (exercise 4)')
  },

  // 9. Routing rules: orders of 100 or more on /orders/priority.
  9 () {
    checkoutFinished()
    const lines = read(newestLog('subscriber', 'order-processor', 'app'))
    const priority = receivedIn(lines.filter(isPriorityLine))
    if (!verify(priority.length > 0, `${priority.length} order(s) came on the priority route`, 'run `npm start -- --routing`')) return
    const want = all.filter((id) => isPriority(makeOrder(id)))
    verify(priority.length === want.length && want.every((id) => priority.includes(id)),
      `exactly the orders of 100 or more came on /orders/priority: ${priority.join(', ')}`)
    eachOnce(receivedIn(lines), 'both routes together')
  },

  // 10. Message TTL: orders that expired before the order-processor came are dropped.
  async 10 () {
    const [last, previous] = logsNewestFirst('publisher', 'checkout', 'app').map(read)
    const expiring = (previous ?? []).filter(isPublishedLine).length
    if (!verify((previous ?? []).some(isTtlLine) && expiring > 0,
      `the run before the last published ${expiring} order(s) with a time to live`, 'run `ORDER_COUNT=5 npm start -- --app checkout --ttl 1`, stop it, then `npm start`')) return
    checkoutFinished(last)
    const lines = read(newestLog('subscriber', 'order-processor', 'app'))
    eachOnce(receivedIn(lines), `the last run's order-processor (the ${expiring} expired orders would come twice)`)
    verify(!lines.some(isDeadLetterLine), 'nothing was dead-lettered: expired orders are dropped')
    const group = await redis(async (r) => {
      const [entry] = await r.xrevrange(topic, '+', '-', 'COUNT', 1)
      const groups = await r.xinfo('GROUPS', topic) as Array<Array<string | number>>
      const mine = groups.map((g) => Object.fromEntries(Array.from({ length: g.length / 2 }, (_, i) => [g[2 * i], g[2 * i + 1]]))).find((g) => g.name === 'order-processor')
      return { lastId: entry?.[0], mine }
    })
    verify(group?.mine?.['last-delivered-id'] === group?.lastId && group?.mine?.pending === 0,
      `the order-processor's sidecar read and acknowledged all of ${topic}, the expired orders too (pending ${String(group?.mine?.pending)})`)
  },

  // 11. The transactional outbox.
  async 11 () {
    const checkout = read(newestLog('publisher', 'checkout', 'app'))
    if (!verify(checkout.some(isOutboxLine), 'the checkout saved and published through the outbox', 'run `npm start -- --outbox`')) return
    checkoutFinished(checkout)
    const saved = await redis((r) => Promise.all(all.map((id) => r.hget(`checkout||${outboxKey(topic, id)}`, 'data')))) ?? []
    verify(saved.every((data) => data !== null), `the outbox store holds orders 1..${orderCount} (${saved.filter((d) => d !== null).length} found, keys checkout||${outboxKey(topic, '<orderId>')})`)
    eachOnce(receivedIn(read(newestLog('subscriber', 'order-processor', 'app'))), 'order-processor')
  },

  // 12. The shop.
  12 () {
    const order = read(newestLog('shop', 'order', 'app'))
    if (!verify(order.some((l) => l.includes(allAcceptedLine(orderCount))), 'the order service published every order', 'run `npm start -- --shop`')) return
    eachOnce(receivedIn(read(newestLog('shop', 'billing', 'app'))), 'billing')
    eachOnce(receivedIn(read(newestLog('shop', 'notification', 'app'))), 'notification')
    eachOnce(receivedIn(read(newestLog('shipping', 'shipping', 'app'))), 'shipping')
    eachOnce(receivedIn(order), `the order service, bills on ${billsTopic}`)
  }
}

export async function check (argv: string[]): Promise<number> {
  const n = Number(argv[0])
  const exercise = exercises[n]
  if (!exercise) {
    console.error(`usage: npm run lab:check -- N   (N = 1..${Object.keys(exercises).length}, the exercise of LAB.md)`)
    return 2
  }
  await exercise()
  for (const r of results) console.log(`${r.ok ? 'ok     ' : 'problem'}  ${r.what}${r.ok || !r.fix ? '' : ` — fix: ${r.fix}`}`)
  const failed = results.filter((r) => !r.ok).length
  console.log(failed === 0 ? `Exercise ${n}: done.` : `Exercise ${n}: ${failed} problem(s).`)
  return failed === 0 ? 0 : 1
}
