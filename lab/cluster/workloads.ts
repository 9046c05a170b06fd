// What runs in the cluster: CoreDNS, metrics-server (for the HPA), Redis and Kafka (as
// deploy/README.md asks for them), Dapr's control plane from its Helm chart, the Secrets of
// deploy/README.md, and the lab itself (deploy/overlays/redis or kafka, unchanged). Also
// what the tests and `status` read back: the ledger in the cluster's Redis.
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { moduleDir } from '../services/go.ts'
import { waitFor } from '../services/daemon.ts'
import { DEFAULT_TOPIC } from '../../shared/pubsub.ts'
import { DAPR_VERSION, LabError, REPO, say } from '../settings.ts'
import { CLUSTER_ID as KAFKA_CLUSTER_ID } from '../services/kafka.ts'
import { COREDNS_IMAGE, DAPR_REGISTRY, KAFKA_IMAGE, METRICS_SERVER_IMAGE, REDIS_IMAGE } from './images.ts'
import { apply, helm, kubectl } from './kubectl.ts'
import { CLUSTER_DNS, CLUSTER_DOMAIN } from './layout.ts'

export const DAPR_NAMESPACE = 'dapr-system'
/** The brokers deploy/ has an overlay for; `npm run k8s -- up [--broker kafka]` picks one (Redis by default). */
export const OVERLAYS = { redis: join(REPO, 'deploy', 'overlays', 'redis'), kafka: join(REPO, 'deploy', 'overlays', 'kafka') } as const
export type ClusterBroker = keyof typeof OVERLAYS
const REDIS_HOST = `redis-master.default.svc.${CLUSTER_DOMAIN}:6379`
const KAFKA_BROKERS = `kafka.default.svc.${CLUSTER_DOMAIN}:9092`

/** A manifest of manifests/, with its IMAGE and the cluster's addresses filled in. */
const manifest = (name: string, image: string): string =>
  readFileSync(join(import.meta.dirname, 'manifests', `${name}.yaml`), 'utf8').replaceAll('image: IMAGE', `image: ${image}`)
    .replaceAll('CLUSTER_DNS', CLUSTER_DNS).replaceAll('KAFKA_CLUSTER_ID', KAFKA_CLUSTER_ID)

/** Waits for a rollout (Deployment or StatefulSet) to finish. */
export async function rolledOut (what: string, namespace = 'default', timeout = '180s'): Promise<void> {
  await kubectl(['rollout', 'status', what, '-n', namespace, `--timeout=${timeout}`])
}

async function installDns (): Promise<void> {
  say('deploying CoreDNS (the cluster\'s DNS)...')
  await apply(manifest('coredns', COREDNS_IMAGE))
  await rolledOut('deployment/coredns', 'kube-system')
}

async function installMetricsServer (): Promise<void> {
  say('deploying metrics-server (the pods\' CPU, for the order-processor\'s HorizontalPodAutoscaler)...')
  await apply(manifest('metrics-server', METRICS_SERVER_IMAGE))
  await rolledOut('deployment/metrics-server', 'kube-system')
}

/** Dapr's control plane from the Helm chart in the github.com/dapr/dapr module, on the images built here. */
async function installDapr (): Promise<void> {
  say(`installing Dapr ${DAPR_VERSION} with its Helm chart (operator, sidecar injector, sentry; mTLS on)...`)
  const chart = join(await moduleDir('github.com/dapr/dapr', `v${DAPR_VERSION}`), 'charts', 'dapr')
  await helm(['upgrade', '--install', 'dapr', chart, '--namespace', DAPR_NAMESPACE, '--create-namespace', '--wait', '--timeout', '5m',
    '--set', `global.registry=${DAPR_REGISTRY}`, '--set', `global.tag=${DAPR_VERSION}`,
    '--set', 'global.imagePullPolicy=Never', '--set', 'dapr_sidecar_injector.sidecarImagePullPolicy=Never',
    // Pub/sub needs neither actors (placement) nor jobs and workflows (scheduler).
    '--set', 'global.actors.enabled=false', '--set', 'global.scheduler.enabled=false',
    '--set', 'global.mtls.enabled=true'])
}

/** `kubectl create secret generic NAME --from-literal=...`, idempotent. */
async function secret (name: string, values: Record<string, string>): Promise<void> {
  const args = Object.entries(values).map(([k, v]) => `--from-literal=${k}=${v}`)
  const { stdout } = await kubectl(['create', 'secret', 'generic', name, ...args, '--dry-run=client', '-o', 'yaml'])
  await apply(String(stdout))
}

async function secretValue (name: string, key: string): Promise<string | undefined> {
  const { stdout, exitCode } = await kubectl(['get', 'secret', name, '-o', `jsonpath={.data.${key}}`], { reject: false })
  return exitCode === 0 && stdout ? Buffer.from(String(stdout), 'base64').toString() : undefined
}

/** Redis, and the Secrets deploy/README.md has the user create (kept when they exist: the pods read them). */
async function installRedisAndSecrets (): Promise<void> {
  say('deploying Redis (the ledger\'s store, and the broker of the Redis overlay) and the Secrets of deploy/README.md...')
  const token = () => randomBytes(32).toString('hex')
  const password = await secretValue('redis', 'redis-password') ?? token()
  await secret('redis', { 'redis-password': password })
  await apply(manifest('redis', REDIS_IMAGE))
  for (const name of ['dapr-api-token', 'order-processor-app-token']) {
    if (!await secretValue(name, 'token')) await secret(name, { token: token() })
  }
  for (const name of ['statestore-redis', 'orderpubsub-redis']) await secret(name, { redisHost: REDIS_HOST, redisPassword: password })
  await rolledOut('deployment/redis-master')
}

/** Kafka as deploy/README.md asks for it (SASL/SCRAM, user1), and the overlay's Secret. */
async function installKafka (): Promise<void> {
  say('deploying Kafka (SASL/SCRAM-SHA-512, as the Kafka overlay expects) and its Secrets...')
  const password = await secretValue('kafka-user-passwords', 'client-passwords') ?? randomBytes(16).toString('hex')
  await secret('kafka-user-passwords', { 'client-passwords': password })
  await secret('orderpubsub-kafka', { brokers: KAFKA_BROKERS, saslUsername: 'user1', saslPassword: password })
  await apply(manifest('kafka', KAFKA_IMAGE))
  await rolledOut('deployment/kafka', 'default', '300s')
}

/**
 * deploy/overlays/<broker> as a user applies it, in place of the lab that runs: the two
 * overlays name the same objects (the base's, and the component orderpubsub), so deleting
 * the other one's removes whichever is there, the finished checkout Job included. The
 * checkout then runs again, and the order-processor's new pods load the new component.
 */
export async function applyLab (broker: ClusterBroker): Promise<void> {
  for (const [other, dir] of Object.entries(OVERLAYS)) {
    if (other !== broker) await kubectl(['delete', '-k', dir, '--ignore-not-found', '--wait'])
  }
  say(`applying deploy/overlays/${broker} (kubectl apply -k)...`)
  await kubectl(['apply', '-k', OVERLAYS[broker]])
}

/**
 * CoreDNS, metrics-server, Dapr, Redis (the ledger's store, whatever the broker), Kafka if
 * it is the broker, the Secrets and the lab; resolves how many orders the ledger held
 * before the lab's checkout ran (0 on a new cluster).
 */
export async function deployAll (broker: ClusterBroker): Promise<number> {
  await installDns()
  await installMetricsServer()
  await installDapr()
  await installRedisAndSecrets()
  if (broker === 'kafka') await installKafka()
  const before = (await clusterLedger()).length
  await applyLab(broker)
  return before
}

/** A command in the Redis pod, with its password. */
export async function redisCli (args: string[]): Promise<string> {
  const { stdout } = await kubectl(['exec', 'deploy/redis-master', '-c', 'redis', '--', 'sh', '-c', 'REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli "$@"', 'redis-cli', ...args])
  return String(stdout)
}

// Every entry of a ledger in one call: KEYS is fine on a lab's Redis.
const LEDGER_SCRIPT = "local r = {} for _, k in ipairs(redis.call('KEYS', ARGV[1])) do table.insert(r, redis.call('HGET', k, 'data')) end return r"

/** The keys of a ledger's entries (shared/subscriber/delivery.ts), as the state store prefixes them with the app id. */
export const ledgerKeys = (kind: 'processed' | 'deadletter', topic = DEFAULT_TOPIC, appId = 'order-processor'): string => `${appId}||${kind}:${topic}:*`

/** The order ids in the order-processor's ledger for `topic`, as the cluster's Redis has them. */
export async function clusterLedger (topic = DEFAULT_TOPIC): Promise<number[]> {
  // Not a terminal: redis-cli prints each entry raw, one a line.
  const out = await redisCli(['EVAL', LEDGER_SCRIPT, '0', ledgerKeys('processed', topic)])
  return out.split('\n').filter((line) => line.trim() !== '').map((line) => (JSON.parse(line) as { orderId: number }).orderId)
}

/** Waits for the checkout Job to complete and for `n` orders more than `before` in the ledger; resolves the ledger's order ids. */
export async function waitForOrders (n: number, before: number): Promise<number[]> {
  say(`waiting for the checkout Job and its ${n} orders in the order-processor's ledger...`)
  await kubectl(['wait', '--for=condition=complete', 'job/checkout', '--timeout=300s'])
  let ids: number[] = []
  if (!await waitFor(`${n} orders in the ledger`, async () => (ids = await clusterLedger()).length >= before + n, 120_000)) {
    throw new LabError(`only ${ids.length - before} of ${n} orders reached the order-processor's ledger. See: kubectl logs deploy/order-processor -c order-processor`)
  }
  return ids
}
