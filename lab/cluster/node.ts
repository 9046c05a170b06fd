// The node: its network namespace, certificates, containerd, etcd, the control plane,
// the kubelet and kube-proxy, as processes of this machine, and a forwarder that lets
// kubectl on loopback reach the API server. `startNode` brings them up in order and waits
// for the node to be Ready; `stopNode` takes them down in the order that leaves nothing
// behind (processes, mounts, the network namespace and everything in it).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { stringify } from 'yaml'
import { isAlive, listProcesses, signal } from '../processes.ts'
import { ownPid, startDaemon, stopPidFile, waitFor } from '../services/daemon.ts'
import { LabError, say } from '../settings.ts'
import { binary } from './binaries.ts'
import { PAUSE_IMAGE } from './images.ts'
import {
  API_PORT, CLUSTER_DNS, CLUSTER_DOMAIN, CONFIGS, CONTAINERD_ROOT, CONTAINERD_SOCKET, CONTAINERD_STATE, FORWARDED_API,
  KUBECONFIG, KUBELET_ROOT, KUBERNETES_VERSION, LOGS, NETNS, NODE_IP, NODE_LINK, NODE_NAME, PIDS, PKI, POD_BRIDGE,
  POD_CIDR, SERVICE_CIDR, STATE, inNetns
} from './layout.ts'
import { kubectl } from './kubectl.ts'

/** Marks that `up` mounted /run/netns itself (`ip netns add` does on first use), so `down` unmounts it. */
const NETNS_MOUNT_MARK = join(STATE, 'mounted-run-netns')
const CGROUP_ROOT = '/sys/fs/cgroup'

interface Daemon {
  name: string
  /** Its executable: one the project built, or Debian's. */
  command: () => string
  args: () => string[]
  /** Started inside the cluster's network namespace (all but the forwarder). */
  netns: boolean
}

const conf = (name: string): string => join(CONFIGS, name)
const pki = (name: string): string => join(PKI, name)

/** In start order; stopped in reverse, which puts the API server down before etcd (the other way round it hangs). */
const DAEMONS: Daemon[] = [
  {
    name: 'containerd',
    command: () => 'containerd',
    netns: true,
    args: () => ['--config', conf('containerd.toml')]
  },
  {
    name: 'etcd',
    command: () => binary('etcd'),
    netns: true,
    args: () => ['--name', NODE_NAME, '--data-dir', join(STATE, 'etcd'),
      '--listen-client-urls', 'http://127.0.0.1:2379', '--advertise-client-urls', 'http://127.0.0.1:2379',
      '--listen-peer-urls', 'http://127.0.0.1:2380', '--initial-advertise-peer-urls', 'http://127.0.0.1:2380',
      '--initial-cluster', `${NODE_NAME}=http://127.0.0.1:2380`]
  },
  {
    name: 'kube-apiserver',
    command: () => binary('kubernetes', 'kube-apiserver'),
    netns: true,
    args: () => ['--advertise-address', NODE_IP, '--secure-port', String(API_PORT),
      '--etcd-servers', 'http://127.0.0.1:2379',
      '--service-cluster-ip-range', SERVICE_CIDR, '--allow-privileged=true',
      '--authorization-mode', 'Node,RBAC', '--enable-admission-plugins', 'NodeRestriction',
      '--client-ca-file', pki('ca.crt'), '--tls-cert-file', pki('apiserver.crt'), '--tls-private-key-file', pki('apiserver.key'),
      '--kubelet-client-certificate', pki('apiserver-kubelet-client.crt'), '--kubelet-client-key', pki('apiserver-kubelet-client.key'),
      '--kubelet-preferred-address-types', 'InternalIP',
      '--service-account-issuer', `https://kubernetes.default.svc.${CLUSTER_DOMAIN}`,
      '--service-account-key-file', pki('sa.pub'), '--service-account-signing-key-file', pki('sa.key'),
      // The aggregation layer (metrics-server's API) authenticates with the front proxy's certificate.
      '--proxy-client-cert-file', pki('front-proxy-client.crt'), '--proxy-client-key-file', pki('front-proxy-client.key'),
      '--requestheader-client-ca-file', pki('front-proxy-ca.crt'), '--requestheader-allowed-names', 'front-proxy-client',
      '--requestheader-extra-headers-prefix', 'X-Remote-Extra-', '--requestheader-group-headers', 'X-Remote-Group',
      '--requestheader-username-headers', 'X-Remote-User', '--enable-aggregator-routing=true',
      '--profiling=false']
  },
  {
    name: 'kube-controller-manager',
    command: () => binary('kubernetes', 'kube-controller-manager'),
    netns: true,
    args: () => ['--kubeconfig', conf('controller-manager.conf'),
      '--authentication-kubeconfig', conf('controller-manager.conf'), '--authorization-kubeconfig', conf('controller-manager.conf'),
      '--bind-address', '127.0.0.1', '--leader-elect=false',
      '--cluster-signing-cert-file', pki('ca.crt'), '--cluster-signing-key-file', pki('ca.key'),
      '--root-ca-file', pki('ca.crt'), '--service-account-private-key-file', pki('sa.key'),
      '--requestheader-client-ca-file', pki('front-proxy-ca.crt'),
      '--use-service-account-credentials=true',
      // The pods' subnet is the CNI configuration's (POD_CIDR), not allocated per node.
      '--controllers', '*,-nodeipam',
      // Scale in after 30 s of low load instead of 5 minutes, and look every 5 s instead of
      // 15: a lab shows both directions, and soon.
      '--horizontal-pod-autoscaler-downscale-stabilization', '30s', '--horizontal-pod-autoscaler-sync-period', '5s']
  },
  {
    name: 'kube-scheduler',
    command: () => binary('kubernetes', 'kube-scheduler'),
    netns: true,
    args: () => ['--kubeconfig', conf('scheduler.conf'),
      '--authentication-kubeconfig', conf('scheduler.conf'), '--authorization-kubeconfig', conf('scheduler.conf'),
      '--bind-address', '127.0.0.1', '--leader-elect=false']
  },
  {
    name: 'kubelet',
    command: () => binary('kubernetes', 'kubelet'),
    netns: true,
    args: () => ['--config', conf('kubelet.yaml'), '--kubeconfig', conf('kubelet.conf'),
      '--node-ip', NODE_IP, '--hostname-override', NODE_NAME, '--root-dir', KUBELET_ROOT]
  },
  {
    name: 'kube-proxy',
    command: () => binary('kubernetes', 'kube-proxy'),
    netns: true,
    args: () => ['--config', conf('kube-proxy.yaml'), '--hostname-override', NODE_NAME]
  },
  {
    // kubectl on this machine: 127.0.0.1:FORWARDED_API, each connection carried into the
    // namespace by a socat of its own (the namespace has no link to this machine's network).
    name: 'api-forwarder',
    command: () => 'socat',
    netns: false,
    args: () => [`TCP-LISTEN:${FORWARDED_API},bind=127.0.0.1,fork,reuseaddr`,
      `EXEC:nsenter --net=/run/netns/${NETNS} socat STDIO TCP\\:127.0.0.1\\:${API_PORT}`]
  }
]

const pidFile = (d: Daemon): string => join(PIDS, `${d.name}.pid`)

/** Why this machine cannot run the cluster (not Linux, not root, not Debian), or undefined when it can. */
export function whyNoCluster (): string | undefined {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return 'npm run k8s runs a cluster on this machine as root on Linux (Debian 12)'
  const release = existsSync('/etc/os-release') ? readFileSync('/etc/os-release', 'utf8') : ''
  if (!/^ID=debian$/m.test(release)) return 'npm run k8s makes its images from this machine\'s Debian release (mmdebstrap), and this is not Debian'
  return undefined
}

/** Whether a cluster of ours runs: its API server's pid file names a live kube-apiserver. */
export async function nodeIsUp (): Promise<boolean> {
  const apiserver = DAEMONS.find((d) => d.name === 'kube-apiserver')!
  return (await ownPid(pidFile(apiserver), 'kube-apiserver')) !== undefined
}

async function run (command: string, args: string[], what = `${command} ${args.join(' ')}`): Promise<string> {
  const result = await execa(command, args, { reject: false })
  if (result.failed) throw new LabError(`${what} failed: ${(result.stderr || result.stdout || result.shortMessage || '').trim()}`)
  return result.stdout
}

const ipNetns = (...args: string[]): Promise<string> => run('ip', ['-n', NETNS, ...args])

async function createNetwork (): Promise<void> {
  const mounted = (await execa('findmnt', ['-rn', '/run/netns'], { reject: false })).exitCode === 0
  await run('ip', ['netns', 'add', NETNS])
  if (!mounted) writeFileSync(NETNS_MOUNT_MARK, '')
  await ipNetns('link', 'set', 'lo', 'up')
  // The node's address, on a veth pair whose both ends stay in the namespace.
  await ipNetns('link', 'add', NODE_LINK[0], 'type', 'veth', 'peer', 'name', NODE_LINK[1])
  await ipNetns('addr', 'add', `${NODE_IP}/32`, 'dev', NODE_LINK[0])
  for (const link of NODE_LINK) await ipNetns('link', 'set', link, 'up')
  // Service IPs are rewritten by kube-proxy after the route is chosen: they need one.
  await ipNetns('route', 'add', 'default', 'dev', NODE_LINK[0])
  for (const setting of ['net.ipv4.ip_forward=1', 'net.bridge.bridge-nf-call-iptables=1']) {
    const [cmd, args] = inNetns('sysctl', ['-qw', setting])
    await run(cmd, args)
  }
}

/** Certificates and kubeconfigs, written by kubeadm (no cluster is initialised by it). */
async function writeCertificates (): Promise<void> {
  const kubeadmConfig = conf('kubeadm.yaml')
  writeFileSync(kubeadmConfig, [
    { apiVersion: 'kubeadm.k8s.io/v1beta4', kind: 'InitConfiguration', localAPIEndpoint: { advertiseAddress: NODE_IP, bindPort: API_PORT }, nodeRegistration: { name: NODE_NAME } },
    {
      apiVersion: 'kubeadm.k8s.io/v1beta4',
      kind: 'ClusterConfiguration',
      kubernetesVersion: KUBERNETES_VERSION,
      certificatesDir: PKI,
      controlPlaneEndpoint: `${NODE_IP}:${API_PORT}`,
      networking: { serviceSubnet: SERVICE_CIDR, podSubnet: POD_CIDR, dnsDomain: CLUSTER_DOMAIN },
      apiServer: { certSANs: ['127.0.0.1'] }
    }
  ].map((doc) => stringify(doc)).join('---\n'))
  const kubeadm = binary('kubernetes', 'kubeadm')
  await run(kubeadm, ['init', 'phase', 'certs', 'all', '--config', kubeadmConfig])
  await run(kubeadm, ['init', 'phase', 'kubeconfig', 'all', '--config', kubeadmConfig, '--kubeconfig-dir', CONFIGS])
  writeFileSync(conf('kube-proxy.conf'), await run(kubeadm, ['kubeconfig', 'user', '--config', kubeadmConfig, '--client-name', 'system:kube-proxy']))
  // kubectl on this machine: the admin's credentials, through the forwarder.
  writeFileSync(KUBECONFIG, readFileSync(conf('admin.conf'), 'utf8').replace(`https://${NODE_IP}:${API_PORT}`, `https://127.0.0.1:${FORWARDED_API}`))
}

function writeConfigs (): void {
  writeFileSync(conf('containerd.toml'), `version = 2
root = "${CONTAINERD_ROOT}"
state = "${CONTAINERD_STATE}"

[grpc]
  address = "${CONTAINERD_SOCKET}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  # Without CAP_SYS_RESOURCE, the sandbox's oom_score_adj of -998 makes runc fail.
  restrict_oom_score_adj = true
  # The pods' network namespaces under containerd's state, not in /run/netns.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${conf('cni')}"
`)
  mkdirSync(conf('cni'), { recursive: true })
  writeFileSync(join(conf('cni'), '10-lab.conflist'), JSON.stringify({
    cniVersion: '1.0.0',
    name: 'dapr-lab',
    plugins: [
      // No ipMasq: pods talk to each other and to the node, and nothing is routed further.
      { type: 'bridge', bridge: POD_BRIDGE, isGateway: true, ipMasq: false, hairpinMode: true, ipam: { type: 'host-local', ranges: [[{ subnet: POD_CIDR }]], routes: [{ dst: '0.0.0.0/0' }] } },
      { type: 'portmap', capabilities: { portMappings: true } }
    ]
  }, null, 2))
  // The pods' DNS is the cluster's CoreDNS alone; nothing is forwarded off this machine.
  writeFileSync(conf('resolv.conf'), '')
  writeFileSync(conf('kubelet.yaml'), stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    cgroupDriver: 'cgroupfs',
    // Our machines run cgroup v1, which the kubelet refuses from 1.35 on unless told.
    failCgroupV1: false,
    failSwapOn: false,
    containerRuntimeEndpoint: `unix://${CONTAINERD_SOCKET}`,
    resolvConf: conf('resolv.conf'),
    clusterDNS: [CLUSTER_DNS],
    clusterDomain: CLUSTER_DOMAIN,
    address: NODE_IP,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: pki('ca.crt') } },
    authorization: { mode: 'Webhook' },
    // The images cannot be pulled again (no registry): never collect them, and evict
    // pods only when the disk or memory is truly full.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%', 'nodefs.inodesFree': '1%' },
    serializeImagePulls: false,
    // ConfigMap volumes follow their ConfigMap within this (default 1 min): Dapr's injector
    // waits for the trust bundle that sentry writes into one.
    syncFrequency: '10s'
  }))
  writeFileSync(conf('kube-proxy.yaml'), stringify({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    clientConnection: { kubeconfig: conf('kube-proxy.conf') },
    mode: 'iptables',
    clusterCIDR: POD_CIDR,
    healthzBindAddress: '127.0.0.1:10256',
    metricsBindAddress: '127.0.0.1:10249',
    // 0: leave the machine-wide conntrack settings alone.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' }
  }))
}

/** Started so far, with their pids: a wait fails at once, with its log, when one of them has died. */
const started = new Map<Daemon, number>()

async function startDaemons (): Promise<void> {
  started.clear()
  for (const d of DAEMONS) {
    const [command, args] = d.netns ? inNetns(d.command(), d.args()) : [d.command(), d.args()]
    started.set(d, await startDaemon({ command, args, log: join(LOGS, `${d.name}.log`), pidFile: pidFile(d), freshLog: true }))
    if (d.name === 'containerd') await waitOrFail('containerd', () => existsSync(CONTAINERD_SOCKET), 30_000, d)
    if (d.name === 'kube-apiserver') await waitOrFail('the API server', apiReady, 120_000, d)
  }
  await waitOrFail('the API server through the forwarder', async () => (await kubectl(['get', '--raw', '/readyz'], { reject: false })).exitCode === 0, 30_000, DAEMONS.at(-1)!)
}

/** kubectl inside the namespace with the super-admin's credentials: before the forwarder and the admin's binding exist. */
function kubectlInside (args: string[]): Promise<{ exitCode?: number, stdout: string, stderr: string }> {
  const [command, full] = inNetns(binary('kubernetes', 'kubectl'), ['--kubeconfig', conf('super-admin.conf'), ...args])
  return execa(command, full, { reject: false })
}

const apiReady = async (): Promise<boolean> => (await kubectlInside(['get', '--raw', '/readyz'])).exitCode === 0

/** Waits for `check`; on a timeout, or as soon as a started daemon has died, a LabError with the log of `d` (or of the dead one). */
async function waitOrFail (what: string, check: () => boolean | Promise<boolean>, ms: number, d: Daemon): Promise<void> {
  let dead: Daemon | undefined
  const ok = await waitFor(what, async () => {
    dead = [...started].find(([, pid]) => !isAlive(pid))?.[0]
    return dead === undefined && await check()
  }, ms)
  if (ok) return
  const culprit = dead ?? d
  const log = join(LOGS, `${culprit.name}.log`)
  const tail = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').slice(-15).join('\n') : '(no log)'
  const why = dead ? `${dead.name} exited while waiting for ${what}` : `${what} was not ready within ${ms / 1000} s`
  throw new LabError(`${why}. The last lines of ${log}:\n${tail}\nFix: npm run k8s -- down, then up again; if it fails the same way, the lines above say why.`)
}

/** Brings the node up and waits until it is Ready. */
export async function startNode (): Promise<void> {
  for (const dir of [LOGS, PIDS, PKI, CONFIGS, KUBELET_ROOT]) mkdirSync(dir, { recursive: true })
  say(`creating the cluster's network namespace ${NETNS} (node ${NODE_IP}, pods ${POD_CIDR}, Services ${SERVICE_CIDR})...`)
  await createNetwork()
  say('writing certificates and kubeconfigs (kubeadm)...')
  await writeCertificates()
  writeConfigs()
  say(`starting ${DAEMONS.map((d) => d.name).join(', ')} (logs: ${LOGS})...`)
  await startDaemons()
  // kubeadm's admin.conf names the group kubeadm:cluster-admins, which `kubeadm init` would bind.
  const bound = await kubectlInside(['create', 'clusterrolebinding', 'kubeadm:cluster-admins', '--clusterrole', 'cluster-admin', '--group', 'kubeadm:cluster-admins'])
  if (bound.exitCode !== 0) throw new LabError(`binding kubeadm:cluster-admins failed: ${bound.stderr.trim()}`)
  say(`waiting for node ${NODE_NAME} to be Ready...`)
  await waitOrFail(`node ${NODE_NAME} to be Ready`, async () =>
    (await kubectl(['get', 'node', NODE_NAME, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'], { reject: false })).stdout === 'True',
  120_000, DAEMONS.find((d) => d.name === 'kubelet')!)
}

/** Stops every process of the node (in reverse start order) and removes its mounts, namespace and state. */
export async function stopNode (): Promise<void> {
  for (const d of [...DAEMONS].reverse()) await stopPidFile(d.name, pidFile(d), d.command(), 20_000)
  // containerd's shims outlive it; a pod whose deletion was cut short leaves one.
  const shims = async () => (await listProcesses()).filter((p) => p.cmd.includes('containerd-shim') && p.cmd.includes(CONTAINERD_SOCKET))
  for (const p of await shims()) signal(p.pid, 'SIGKILL')
  await waitFor('containerd\'s shims to exit', async () => (await shims()).length === 0, 10_000)
  for (const dir of [KUBELET_ROOT, CONTAINERD_STATE, CONTAINERD_ROOT]) await unmountUnder(dir)
  if ((await networkNamespaces()).includes(NETNS)) await run('ip', ['netns', 'del', NETNS])
  if (existsSync(NETNS_MOUNT_MARK) && (await networkNamespaces()).length === 0) {
    await execa('umount', ['/run/netns'], { reject: false })
  }
  removeCgroups()
  rmSync(STATE, { recursive: true, force: true })
  rmSync(CONTAINERD_STATE.replace(/\/containerd$/, ''), { recursive: true, force: true })
}

/** The names of this machine's network namespaces (`ip netns ls`). */
export async function networkNamespaces (): Promise<string[]> {
  const { stdout } = await execa('ip', ['netns', 'ls'], { reject: false })
  return stdout.split('\n').map((l) => l.split(' ')[0]!).filter(Boolean)
}

/** The mount points at or under `dir` (util-linux findmnt). */
export async function mountsUnder (dir: string): Promise<string[]> {
  const { stdout } = await execa('findmnt', ['-rn', '-o', 'TARGET'], { reject: false })
  return stdout.split('\n').filter((t) => t === dir || t.startsWith(`${dir}/`))
}

async function unmountUnder (dir: string): Promise<void> {
  // Deepest first.
  for (const target of (await mountsUnder(dir)).sort((a, b) => b.length - a.length)) {
    await execa('umount', ['-l', target], { reject: false })
  }
}

/** The kubelet's cgroups (kubepods under each controller), empty once the pods are gone. */
function removeCgroups (): void {
  const removeTree = (dir: string): void => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry)
      if (statSync(path).isDirectory()) removeTree(path)
    }
    try { rmdirSync(dir) } catch { /* still in use, or not a cgroup of ours */ }
  }
  if (!existsSync(CGROUP_ROOT)) return
  for (const controller of readdirSync(CGROUP_ROOT)) {
    const kubepods = join(CGROUP_ROOT, controller, 'kubepods')
    if (existsSync(kubepods)) removeTree(kubepods)
  }
}
