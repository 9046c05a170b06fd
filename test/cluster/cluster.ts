// Helpers of the cluster tests: `npm run k8s` as a user runs it, kubectl on the lab's
// cluster, the sidecar's metadata read from inside a pod, a checkout Job of one's own, and
// what the node leaves on this machine.
import { execa } from 'execa'
import { parseAllDocuments, stringify } from 'yaml'
import { kubectl } from '../../lab/cluster/kubectl.ts'
import { API_PORT, CONTAINERD_SOCKET, CONTAINERD_STATE, FORWARDED_API, K8S_CACHE, KUBELET_ROOT, NETNS, NODE_LINK, POD_BRIDGE, STATE } from '../../lab/cluster/layout.ts'
import { mountsUnder, networkNamespaces } from '../../lab/cluster/node.ts'
import { ledgerKeys, OVERLAYS, redisCli } from '../../lab/cluster/workloads.ts'
import { listProcesses } from '../../lab/processes.ts'
import { REPO } from '../../lab/settings.ts'

/** `npm run k8s -- <action> [args]`, its output passed on (a cold `up` builds for many minutes, and says so). */
export async function k8s (action: 'up' | 'down' | 'status', ...args: string[]): Promise<{ exitCode: number, output: string }> {
  const run = execa('npm', ['run', 'k8s', '--', action, ...args], { cwd: REPO, all: true, reject: false, buffer: true })
  run.all?.on('data', (chunk: Buffer) => process.stderr.write(chunk))
  const result = await run
  return { exitCode: result.exitCode ?? 1, output: String(result.all ?? '') }
}

export async function text (args: string[]): Promise<string> {
  return String((await kubectl(args)).stdout)
}

/** The names of the running pods with label app.kubernetes.io/name=`app`, but those being deleted. */
export async function podsOf (app: string): Promise<string[]> {
  const { items } = JSON.parse(await text(['get', 'pods', '-l', `app.kubernetes.io/name=${app}`, '--field-selector=status.phase=Running', '-o', 'json'])) as
    { items: Array<{ metadata: { name: string, deletionTimestamp?: string } }> }
  return items.filter((p) => !p.metadata.deletionTimestamp).map((p) => p.metadata.name)
}

export interface SidecarMetadata {
  id: string
  components?: Array<{ name: string, type: string }>
  subscriptions?: Array<{ pubsubname: string, topic: string, deadLetterTopic?: string, type?: string, rules?: Array<{ path: string }> }>
}

/** GET /v1.0/metadata of a pod's sidecar, from the app's container (node is there; the sidecar's image has no shell). */
export async function sidecarMetadata (pod: string, container: string): Promise<SidecarMetadata> {
  const script = "fetch('http://127.0.0.1:3500/v1.0/metadata', { headers: { 'dapr-api-token': process.env.DAPR_API_TOKEN } }).then((r) => r.text()).then((t) => process.stdout.write(t))"
  return JSON.parse(await text(['exec', pod, '-c', container, '--', 'node', '-e', script])) as SidecarMetadata
}

/** Publishes `body` as it is to the orders topic through a pod's sidecar (a poison order, say). */
export async function publishRaw (pod: string, container: string, body: string): Promise<void> {
  const script = `fetch('http://127.0.0.1:3500/v1.0/publish/orderpubsub/orders', { method: 'POST', headers: { 'dapr-api-token': process.env.DAPR_API_TOKEN, 'content-type': 'application/json' }, body: ${JSON.stringify(body)} }).then((r) => { if (r.status !== 204) throw new Error('publish answered ' + r.status) })`
  await text(['exec', pod, '-c', container, '--', 'node', '-e', script])
}

/**
 * The checkout Job of deploy/overlays/redis under another name, with `env` added: what a
 * user's second run would apply. `once`: a checkout that fails (one stopped on purpose)
 * is not started again.
 */
export async function startCheckout (name: string, env: Record<string, string>, { once = false } = {}): Promise<void> {
  const rendered = parseAllDocuments(await text(['kustomize', OVERLAYS.redis])).map((d) => d.toJS() as any)
  const job = rendered.find((o) => o.kind === 'Job' && o.metadata.name === 'checkout')
  job.metadata.name = name
  delete job.spec.ttlSecondsAfterFinished
  if (once) job.spec.backoffLimit = 0
  const container = job.spec.template.spec.containers[0]
  container.env.push(...Object.entries(env).map(([k, value]) => ({ name: k, value })))
  await kubectl(['delete', 'job', name, '--ignore-not-found', '--wait'])
  await kubectl(['apply', '-f', '-'], { input: stringify(job) })
}

/** Waits for a Job to complete (its pod exits a moment after its last order is processed). */
export async function jobCompleted (name: string, timeout = '120s'): Promise<void> {
  await kubectl(['wait', '--for=condition=complete', `job/${name}`, `--timeout=${timeout}`])
}

/** A pod's container's log lines (the last `tail` only, when given). */
export async function logLines (pod: string, container: string, tail?: number): Promise<string[]> {
  return (await text(['logs', pod, '-c', container, ...(tail ? [`--tail=${tail}`] : [])])).split('\n')
}

/** What the cluster has on this machine, beyond its cached programs and images: for `down` to leave none of it. */
export async function footprint (): Promise<Record<string, string[]>> {
  const processes = (await listProcesses()).filter((p) =>
    p.cmd.includes(K8S_CACHE) || p.cmd.includes(CONTAINERD_SOCKET) || p.cmd.includes(`TCP-LISTEN:${FORWARDED_API}`) || p.cmd.includes(`TCP\\:127.0.0.1\\:${API_PORT}`))
  const mounts = (await Promise.all([STATE, KUBELET_ROOT, CONTAINERD_STATE, '/run/dapr-lab-k8s'].map(mountsUnder))).flat()
  const namespaces = (await networkNamespaces()).filter((n) => n === NETNS)
  const links = (await execa('ip', ['-o', 'link', 'show'])).stdout.split('\n').filter((l) => [POD_BRIDGE, ...NODE_LINK].some((n) => l.includes(` ${n}:`) || l.includes(` ${n}@`)))
  const rules = (await execa('iptables-save')).stdout.split('\n').filter((l) => l.includes('KUBE-') || l.includes('CNI-'))
  return { processes: processes.map((p) => `${p.pid} ${p.cmd.slice(0, 120)}`), mounts, namespaces, links, rules }
}

/** How many entries the order-processor's ledger holds for `kind` (processed, deadletter) on the orders topic: one small answer, for polling. */
export async function ledgerSize (kind: 'processed' | 'deadletter' = 'processed'): Promise<number> {
  return Number(await redisCli(['EVAL', "return #redis.call('KEYS', ARGV[1])", '0', ledgerKeys(kind)]))
}

/** Empties the order-processor's ledger of processed orders, so that a run's orders can be counted from 1. */
export async function clearLedger (): Promise<void> {
  await redisCli(['EVAL', "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end return 0", '0', ledgerKeys('processed')])
}
