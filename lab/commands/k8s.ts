// `npm run k8s -- up [--broker kafka] | down | status`: a real single-node Kubernetes on
// this machine (no Docker, no registry), with Dapr's control plane from its Helm chart and
// the lab from deploy/ (lab/cluster/), on the Redis overlay or the Kafka one. Linux, as root; elsewhere, kind or Docker Desktop with
// `dapr init -k` (deploy/README.md).
import { existsSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { ensurePrograms } from '../cluster/binaries.ts'
import { ensureImages } from '../cluster/images.ts'
import { kubectl } from '../cluster/kubectl.ts'
import { KUBECONFIG, NETNS, NODE_NAME } from '../cluster/layout.ts'
import { nodeIsUp, startNode, stopNode, whyNoCluster } from '../cluster/node.ts'
import { clusterLedger, deployAll, OVERLAYS, waitForOrders, type ClusterBroker } from '../cluster/workloads.ts'
import { onPath } from '../processes.ts'
import { installPackage } from '../services/debian.ts'
import { loadConfig } from '../../shared/config.ts'
import { LabError, say } from '../settings.ts'

/** Debian's packages the cluster runs on: command (or file) → package. */
const PACKAGES: Array<[string, string]> = [
  ['containerd', 'containerd'], ['runc', 'runc'], ['buildah', 'buildah'], ['mmdebstrap', 'mmdebstrap'],
  ['/usr/lib/cni/bridge', 'containernetworking-plugins'], ['socat', 'socat'], ['iptables', 'iptables'], ['conntrack', 'conntrack']
]

/** What the checkout Job publishes: the publisher's default (deploy/base sets no ORDER_COUNT). */
const ORDERS = loadConfig({}).orderCount

async function prerequisites (): Promise<void> {
  const why = whyNoCluster()
  if (why) throw new LabError(`${why}. Elsewhere, use kind or Docker Desktop with \`dapr init -k\`: deploy/README.md, "Try it on your machine".`)
  for (const [what, pkg] of PACKAGES) {
    if (what.startsWith('/') ? existsSync(what) : onPath(what)) continue
    await installPackage(pkg, pkg, `${pkg} is not installed. Fix: 'sudo apt-get install ${pkg}', then run this again.`)
  }
}

async function up (broker: ClusterBroker): Promise<number> {
  await prerequisites()
  await ensurePrograms()
  if (await nodeIsUp()) {
    say('the cluster is up already: deploying the lab into it again')
  } else {
    await stopNode() // what a cluster that died half-way left behind
    await startNode()
  }
  await ensureImages(broker === 'kafka')
  const before = await deployAll(broker)
  const ids = await waitForOrders(ORDERS, before)
  say(before === 0
    ? `the order-processor has processed orders ${[...ids].sort((a, b) => a - b).join(', ')}`
    : `the order-processor has processed ${ORDERS} more orders (its ledger holds ${ids.length})`)
  say(`the cluster runs. kubectl: export KUBECONFIG=${KUBECONFIG}   (stop it: npm run k8s -- down)`)
  console.log(`export KUBECONFIG=${KUBECONFIG}`)
  return 0
}

async function down (): Promise<number> {
  const why = whyNoCluster()
  if (why) throw new LabError(`${why}, and so does down.`)
  if (await nodeIsUp()) {
    say('deleting every pod (their containers, mounts and network namespaces go with them)...')
    await deletePods()
  }
  say(`stopping the cluster's processes and removing its network namespace ${NETNS}...`)
  await stopNode()
  say('the cluster is down (its programs and images stay cached for the next up)')
  return 0
}

/**
 * Every workload, then every pod, with the controllers still running: the Job controller
 * has to take its tracking finalizer off the Jobs' pods before they can go. The kubelet
 * tears each pod down through containerd and CNI, and the pods leave the API when that is done.
 */
async function deletePods (): Promise<void> {
  await kubectl(['delete', 'horizontalpodautoscalers,cronjobs,jobs,deployments,statefulsets,daemonsets,replicasets', '--all', '--all-namespaces', '--wait=false'], { reject: false })
  const { exitCode } = await kubectl(['delete', 'pods', '--all', '--all-namespaces', '--grace-period=5', '--wait=true', '--timeout=120s'], { reject: false })
  if (exitCode !== 0) say('some pods did not go within 2 minutes: stopping the node takes their containers down')
}

async function status (): Promise<number> {
  if (!await nodeIsUp()) {
    console.log('the cluster is down (npm run k8s -- up)')
    return 1
  }
  const nodes = await kubectl(['get', 'node', NODE_NAME, '-o', 'wide'], { reject: false })
  const pods = await kubectl(['get', 'pods', '--all-namespaces', '-o', 'wide'], { reject: false })
  console.log(`${String(nodes.stdout)}\n\n${String(pods.stdout)}`)
  const ids = await clusterLedger().catch(() => [])
  console.log(`\norders in the order-processor's ledger: ${ids.length}\nexport KUBECONFIG=${KUBECONFIG}`)
  return 0
}

export async function k8s (argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { broker: { type: 'string', default: 'redis' } }, allowPositionals: true })
  const [action] = positionals
  const broker = values.broker
  if (!(broker in OVERLAYS)) throw new LabError(`--broker ${broker}: the cluster runs deploy/overlays/redis or deploy/overlays/kafka (--broker redis | kafka)`)
  if (action === 'up') return await up(broker as ClusterBroker)
  if (action === 'down') return await down()
  if (action === 'status') return await status()
  say('usage: npm run k8s -- up [--broker redis | kafka] | down | status')
  return 2
}
