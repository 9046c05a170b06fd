// What runs in the cluster: CoreDNS, metrics-server (for the HPA), Redis (as
// deploy/README.md asks for it), Dapr's control plane from its Helm chart, the Secrets of
// deploy/README.md, and the lab itself (deploy/overlays/redis, unchanged). Also what the tests and `status` read back: the
// ledger in the cluster's Redis.
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { moduleDir } from '../services/go.ts'
import { waitFor } from '../services/daemon.ts'
import { DAPR_VERSION, LabError, REPO, say } from '../settings.ts'
import { COREDNS_IMAGE, DAPR_REGISTRY, METRICS_SERVER_IMAGE, REDIS_IMAGE } from './images.ts'
import { apply, helm, kubectl } from './kubectl.ts'
import { CLUSTER_DNS, CLUSTER_DOMAIN } from './layout.ts'

export const DAPR_NAMESPACE = 'dapr-system'
export const OVERLAY = join(REPO, 'deploy', 'overlays', 'redis')
const REDIS_HOST = `redis-master.default.svc.${CLUSTER_DOMAIN}:6379`

const manifest = (name: string, image: string): string =>
  readFileSync(join(import.meta.dirname, 'manifests', `${name}.yaml`), 'utf8').replaceAll('image: IMAGE', `image: ${image}`).replaceAll('CLUSTER_DNS', CLUSTER_DNS)

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
  say('deploying Redis (the broker and the ledger\'s store) and the Secrets of deploy/README.md...')
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

/** deploy/overlays/redis as a user applies it; a finished checkout Job is replaced, so that it runs again. */
export async function applyLab (): Promise<void> {
  say('applying deploy/overlays/redis (kubectl apply -k)...')
  await kubectl(['delete', 'job', 'checkout', '--ignore-not-found', '--wait'])
  await kubectl(['apply', '-k', OVERLAY])
}

/** CoreDNS, metrics-server, Dapr, Redis, the Secrets and the lab. */
export async function deployAll (): Promise<void> {
  await installDns()
  await installMetricsServer()
  await installDapr()
  await installRedisAndSecrets()
  await applyLab()
}

/** A command in the Redis pod, with its password. */
export async function redisCli (args: string[]): Promise<string> {
  const { stdout } = await kubectl(['exec', 'deploy/redis-master', '-c', 'redis', '--', 'sh', '-c', 'REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli "$@"', 'redis-cli', ...args])
  return String(stdout)
}

// Every entry of a ledger in one call: KEYS is fine on a lab's Redis.
const LEDGER_SCRIPT = "local r = {} for _, k in ipairs(redis.call('KEYS', ARGV[1])) do table.insert(r, redis.call('HGET', k, 'data')) end return r"

/** The order ids in the order-processor's ledger for `topic` (subscriber/src/ledger.ts), as the cluster's Redis has them. */
export async function clusterLedger (topic = 'orders', appId = 'order-processor'): Promise<number[]> {
  // Not a terminal: redis-cli prints each entry raw, one a line.
  const out = await redisCli(['EVAL', LEDGER_SCRIPT, '0', `${appId}||processed:${topic}:*`])
  return out.split('\n').filter((line) => line.trim() !== '').map((line) => (JSON.parse(line) as { orderId: number }).orderId)
}

/** Waits for the checkout Job to complete and for `n` orders in the ledger. */
export async function waitForOrders (n: number): Promise<number[]> {
  say(`waiting for the checkout Job and ${n} orders in the order-processor's ledger...`)
  await kubectl(['wait', '--for=condition=complete', 'job/checkout', '--timeout=300s'])
  let ids: number[] = []
  if (!await waitFor(`${n} orders in the ledger`, async () => (ids = await clusterLedger()).length >= n, 120_000)) {
    throw new LabError(`only ${ids.length} of ${n} orders reached the order-processor's ledger. See: kubectl logs deploy/order-processor -c order-processor`)
  }
  return ids
}
