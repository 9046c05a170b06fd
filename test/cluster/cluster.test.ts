// The lab on a real single-node Kubernetes (`npm run k8s`, lab/cluster/): real kubelet,
// containerd and runc, Dapr's control plane from its Helm chart, the sidecar injected by
// its webhook, Redis in the cluster, deploy/overlays/redis applied unchanged, then the
// Kafka overlay in its place. One cluster for the file: `up` first, `down` last, and
// `down` again after a failure (a half-made cluster included).
import { execa } from 'execa'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { kubectl } from '../../lab/cluster/kubectl.ts'
import { inNetns, NETNS, POD_BRIDGE } from '../../lab/cluster/layout.ts'
import { clusterLedger } from '../../lab/cluster/workloads.ts'
import { daprImage } from '../../lab/cluster/images.ts'
import { acceptedBeforeStopped, isDeadLetterLine, receivedOrderIds } from '../../shared/log-lines.ts'
import { notOnThisMachine, until } from '../e2e/lab.ts'
import { clearLedger, footprint, jobCompleted, k8s, ledgerSize, logLines, podsOf, publishRaw, sidecarMetadata, startCheckout, text } from './cluster.ts'

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1)
const sorted = (ids: number[]) => [...ids].sort((a, b) => a - b)

/** Whether something of a cluster may be there that the last test did not take down. */
let needsDown = false
// Not on a machine that cannot run it (npm test says why), never on CI.
const skip = notOnThisMachine('cluster')

beforeAll(async () => {
  if (skip) return
  // A cluster of its own: one left up (by a person, or a run cut short) is taken down first.
  expect((await k8s('down')).exitCode).toBe(0)
  needsDown = true
  const { exitCode, output } = await k8s('up')
  expect(exitCode, output.slice(-3000)).toBe(0)
})

afterAll(async () => {
  if (needsDown) await k8s('down')
})

describe.skipIf(skip)('the lab on a single-node Kubernetes (npm run k8s)', () => {
  it('the checkout Job publishes 19 orders and the order-processor, with an injected daprd, processes orderId 1..19 once each', async () => {
    const [pod] = await podsOf('order-processor')
    expect(pod).toBeDefined()
    // The sidecar comes from Dapr's injector (the Deployment names none), on the image built here.
    const containers = JSON.parse(await text(['get', 'pod', pod!, '-o', 'jsonpath={.spec.containers}'])) as Array<{ name: string, image: string }>
    expect(containers.map((c) => c.name).sort()).toEqual(['daprd', 'order-processor'])
    expect(containers.find((c) => c.name === 'daprd')!.image).toBe(daprImage('daprd'))
    expect(await text(['get', 'deployment', 'order-processor', '-o', 'jsonpath={.spec.template.spec.containers[*].name}'])).toBe('order-processor')

    // The checkout's sidecar is a native one (an init container that always restarts), so its Job completes.
    expect(await text(['get', 'job', 'checkout', '-o', 'jsonpath={.status.succeeded}'])).toBe('1')
    expect(await text(['get', 'pods', '-l', 'job-name=checkout', '-o', 'jsonpath={.items[0].spec.initContainers[?(@.name=="daprd")].restartPolicy}'])).toBe('Always')
    expect(sorted(await clusterLedger())).toEqual(range(19))
    const received = receivedOrderIds(await logLines(pod!, 'order-processor'))
    expect(sorted(received)).toEqual(range(19))
  })

  it('the sidecars load what deploy/ declares, within its scopes: components, declarative subscriptions, dead-letter topic', async () => {
    const [pod] = await podsOf('order-processor')
    const metadata = await sidecarMetadata(pod!, 'order-processor')
    expect(metadata.id).toBe('order-processor')
    expect(metadata.components?.map((c) => `${c.name}:${c.type}`).sort()).toEqual(expect.arrayContaining(['orderpubsub:pubsub.redis', 'statestore:state.redis']))
    const orders = metadata.subscriptions?.find((s) => s.topic === 'orders')
    expect(orders).toMatchObject({ pubsubname: 'orderpubsub', deadLetterTopic: 'orders-deadletter', type: 'DECLARATIVE' })
    expect(orders?.rules?.map((r) => r.path)).toEqual(['/orders'])
    expect(metadata.subscriptions?.find((s) => s.topic === 'orders-deadletter')?.rules?.map((r) => r.path)).toEqual(['/deadletters'])

    // The checkout's sidecar: the pub/sub, but not the order-processor's ledger (statestore
    // is scoped to it), and none of its subscriptions.
    await startCheckout('checkout-scopes', { ORDER_COUNT: '2', PUBLISH_INTERVAL_MS: '120000', ORDERS_TOPIC: 'orders-scopes' })
    try {
      let checkout: string | undefined
      await until('the checkout-scopes pod to run', async () => (checkout = (await text(['get', 'pods', '-l', 'job-name=checkout-scopes', '--field-selector=status.phase=Running', '-o', 'jsonpath={.items[*].metadata.name}'])) || undefined) !== undefined, 120_000)
      let theirs: Awaited<ReturnType<typeof sidecarMetadata>> | undefined
      await until('the checkout\'s sidecar to answer', async () => (theirs = await sidecarMetadata(checkout!, 'checkout').catch(() => undefined)) !== undefined, 60_000)
      expect(theirs!.id).toBe('checkout')
      expect(theirs!.components?.map((c) => c.name)).toContain('orderpubsub')
      expect(theirs!.components?.map((c) => c.name)).not.toContain('statestore')
      expect(theirs!.subscriptions ?? []).toEqual([])
    } finally {
      await text(['delete', 'job', 'checkout-scopes', '--wait=false'])
    }

    // Resiliency and Configuration, which the metadata does not list: the injector passed
    // the Configuration on, and the sidecar says it loaded both.
    const args = JSON.parse(await text(['get', 'pod', pod!, '-o', 'jsonpath={.spec.containers[?(@.name=="daprd")].args}'])) as string[]
    expect(args[args.indexOf('--config') + 1]).toBe('tracing')
    const sidecarLog = (await logLines(pod!, 'daprd')).join('\n')
    expect(sidecarLog).toContain('Loading Resiliency configuration: order-delivery')
    expect(sidecarLog).toContain('Enabled tracing HTTP middleware')
  })

  it('a poison order goes to the dead-letter topic once, and the order-processor keeps running', async () => {
    const [pod] = await podsOf('order-processor')
    const restartsBefore = await text(['get', 'pod', pod!, '-o', 'jsonpath={.status.containerStatuses[?(@.name=="order-processor")].restartCount}'])
    const ledgeredBefore = await ledgerSize('deadletter')
    await publishRaw(pod!, 'order-processor', JSON.stringify({ orderId: 'not-a-number', customerName: 'Mallory' }))
    let deadLetters: string[] = []
    await until('the dead letter to be logged', async () => (deadLetters = (await logLines(pod!, 'order-processor')).filter(isDeadLetterLine)).length >= 1, 60_000)
    expect(deadLetters).toHaveLength(1)
    expect(deadLetters[0]).toContain('orderId=\\"not-a-number\\"')
    expect(deadLetters[0]).toContain('order/orderId must be integer')
    expect(await ledgerSize('deadletter')).toBe(ledgeredBefore + 1)
    expect(await text(['get', 'pod', pod!, '-o', 'jsonpath={.status.containerStatuses[?(@.name=="order-processor")].restartCount}'])).toBe(restartsBefore)
  })

  it('an order-processor pod deleted mid-run loses nothing: every order processed once in effect', async () => {
    const n = 60
    await clearLedger()
    const [first] = await podsOf('order-processor')
    await startCheckout('checkout-kill', { ORDER_COUNT: String(n), PUBLISH_INTERVAL_MS: '150' })
    await until('10 orders processed', async () => (await ledgerSize()) >= 10, 120_000)
    await text(['delete', 'pod', first!, '--wait=false'])
    await until('a new order-processor pod', async () => (await podsOf('order-processor')).some((p) => p !== first), 120_000)
    await until(`${n} orders in the ledger`, async () => (await ledgerSize()) >= n, 180_000)
    expect(sorted(await clusterLedger())).toEqual(range(n))
    await jobCompleted('checkout-kill')
    await text(['delete', 'job', 'checkout-kill', '--wait=false'])
  })

  it('under load the autoscaler adds order-processors, which share the orders and lose none, then scales back in', async () => {
    // The checkout as the load: an order every 5 ms through its sidecar (about 100-150
    // orders/s here), which takes the order-processor's CPU far above the 70 % of its request
    // that deploy/base/hpa.yaml aims at; it goes on until a second order-processor has
    // processed orders, however long the autoscaler and the new pods take. Then it is
    // stopped (SIGTERM: it ends after the publish in flight and says how many Dapr
    // accepted), and each of those orders must be in the ledger once.
    await clearLedger()
    await until('metrics-server to report the order-processor\'s CPU', async () =>
      (await kubectl(['get', '--raw', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods'], { reject: false })).stdout?.toString().includes('order-processor') ?? false, 180_000)
    const replicas = async () => Number(await text(['get', 'deployment', 'order-processor', '-o', 'jsonpath={.status.readyReplicas}']))
    await startCheckout('checkout-load', { ORDER_COUNT: '1000000', PUBLISH_INTERVAL_MS: '5' }, { once: true })
    try {
      let most = 1
      // Pods that logged orders: read while they run, since scaling in deletes them and their logs.
      const busy = new Set<string>()
      await until('a second order-processor, ready, to process orders', async () => {
        most = Math.max(most, await replicas())
        for (const pod of await podsOf('order-processor')) {
          if (!busy.has(pod) && receivedOrderIds(await logLines(pod, 'order-processor', 200).catch(() => [])).length > 0) busy.add(pod)
        }
        return most > 1 && busy.size > 1
      }, 540_000)

      const [checkout] = (await text(['get', 'pods', '-l', 'job-name=checkout-load', '-o', 'jsonpath={.items[*].metadata.name}'])).split(' ')
      await text(['exec', checkout!, '-c', 'checkout', '--', 'node', '-e', "process.kill(1, 'SIGTERM')"])
      let accepted: number | undefined
      await until('the checkout to say how many orders Dapr accepted', async () => (accepted = acceptedBeforeStopped(await logLines(checkout!, 'checkout', 5))) !== undefined, 60_000)
      await until(`${accepted} orders in the ledger`, async () => (await ledgerSize()) >= accepted!, 180_000)
      expect(sorted(await clusterLedger())).toEqual(range(accepted!))
    } finally {
      // However it ended, the load ends: the next test counts orders of its own.
      await text(['delete', 'job', 'checkout-load', '--wait'])
    }
    await until('the autoscaler to scale back in to one order-processor', async () => (await replicas()) === 1 &&
      await text(['get', 'deployment', 'order-processor', '-o', 'jsonpath={.spec.replicas}']) === '1', 300_000)
  })

  it('the Kafka overlay instead (npm run k8s -- up --broker kafka): Kafka with SASL in the cluster, 19 orders once', async () => {
    await clearLedger()
    const { exitCode, output } = await k8s('up', '--broker', 'kafka')
    expect(exitCode, output.slice(-3000)).toBe(0)
    expect(sorted(await clusterLedger())).toEqual(range(19))
    const [pod] = await podsOf('order-processor')
    const metadata = await sidecarMetadata(pod!, 'order-processor')
    expect(metadata.components?.find((c) => c.name === 'orderpubsub')?.type).toBe('pubsub.kafka')
    expect(sorted(receivedOrderIds(await logLines(pod!, 'order-processor')))).toEqual(range(19))
  })

  it('npm run k8s -- down leaves no process, mount, network namespace, bridge or iptables rule behind', async () => {
    const before = await footprint()
    expect(before.processes.length).toBeGreaterThan(5)
    expect(before.mounts.length).toBeGreaterThan(0)
    expect(before.namespaces).toHaveLength(1)
    // The bridge and kube-proxy's rules live in the cluster's namespace, and go with it.
    const [ip, ipArgs] = inNetns('ip', ['link', 'show', POD_BRIDGE])
    expect((await execa(ip, ipArgs, { reject: false })).exitCode).toBe(0)
    const [save, saveArgs] = inNetns('iptables-save', [])
    expect((await execa(save, saveArgs)).stdout).toContain('KUBE-SERVICES')

    const { exitCode, output } = await k8s('down')
    expect(exitCode, output.slice(-2000)).toBe(0)
    needsDown = false
    expect(await footprint()).toEqual({ processes: [], mounts: [], namespaces: [], links: [], rules: [] })
    expect((await execa('ip', ['netns', 'ls'])).stdout).not.toContain(NETNS)
  })
})
