// The cluster's programs, each built once from its Go module into the cache (nothing is
// downloaded from anywhere but the Go module proxy): Kubernetes (with kubeadm, which
// writes the certificates and kubeconfigs), etcd, CoreDNS, Helm, metrics-server, Dapr's
// control plane, and the pods' pause program (lab/cluster/pause/, the project's own).
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { isExecutable } from '../processes.ts'
import { daprGoMod } from '../services/dapr-runtime.ts'
import { buildInto, DOWNLOADED, elapsed, go, goModCache, moduleDir } from '../services/go.ts'
import { DAPR_VERSION, LabError, REPO, say } from '../settings.ts'
import { COREDNS_VERSION, ETCD_VERSION, HELM_VERSION, K8S_CACHE, KUBERNETES_VERSION, METRICS_SERVER_VERSION } from './layout.ts'

interface Recipe {
  /** For people, with how long a cold build takes on 2 cores. */
  what: string
  /** The folder under the cache that holds the binaries (versioned: a new version builds anew). */
  folder: string
  binaries: string[]
  /**
   * Writes the wrapper module into `dir` and resolves what to build, and with which
   * -ldflags; `in` when it is built in another module than `dir`.
   */
  prepare (dir: string): Promise<{ packages: string[], ldflags?: string, in?: string }>
}

/** A command that `go get` fetches as it is (its module has no `replace` to repeat): built in a module of its own. */
function fetched (what: string, pkg: string, version: string): Recipe {
  const name = pkg.split('/').at(-1)!
  return {
    what,
    folder: `${name}-${version}`,
    binaries: [name],
    async prepare (dir) {
      writeFileSync(join(dir, 'go.mod'), `module ${name}-lab\n\ngo 1.26\n`)
      await go(dir, ['get', `${pkg}@${version}`], { GOFLAGS: '-mod=mod' }, DOWNLOADED)
      return { packages: [pkg] }
    }
  }
}

const K8S_COMMANDS = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'kube-proxy', 'kubectl', 'kubeadm']
const DAPR_CONTROL_PLANE = ['operator', 'injector', 'sentry']

const RECIPES = {
  kubernetes: {
    what: `Kubernetes ${KUBERNETES_VERSION} (${K8S_COMMANDS.join(', ')}; about 5 minutes)`,
    folder: `kubernetes-${KUBERNETES_VERSION}`,
    binaries: K8S_COMMANDS,
    // k8s.io/kubernetes points its k8s.io/* staging modules at ./staging with `replace`:
    // this module pins each of them to the release's own v0.X.Y instead.
    async prepare (dir) {
      const goMod = readFileSync(join(await moduleDir('k8s.io/kubernetes', KUBERNETES_VERSION), 'go.mod'), 'utf8')
      const staging = [...goMod.matchAll(/^\s*(k8s\.io\/[^\s]+) => \.\/staging\//gm)].map((m) => m[1]!)
      const v0 = KUBERNETES_VERSION.replace(/^v1\./, 'v0.')
      writeFileSync(join(dir, 'go.mod'), `module k8s-lab\n\ngo 1.26\n\nrequire k8s.io/kubernetes ${KUBERNETES_VERSION}\n\nreplace (\n${staging.map((m) => `\t${m} => ${m} ${v0}`).join('\n')}\n)\n`)
      const packages = K8S_COMMANDS.map((c) => `k8s.io/kubernetes/cmd/${c}`)
      writeFileSync(join(dir, 'tools.go'), `//go:build tools\n\npackage tools\n\nimport (\n${packages.map((p) => `\t_ "${p}"`).join('\n')}\n)\n`)
      await go(dir, ['mod', 'tidy'], { GOFLAGS: '-mod=mod' }, DOWNLOADED)
      // Without the version the cluster says v0.0.0-master, and Helm's kubeVersion checks fail.
      const [major, minor] = KUBERNETES_VERSION.slice(1).split('.')
      const stamp = (pkg: string) => `-X ${pkg}.gitVersion=${KUBERNETES_VERSION} -X ${pkg}.gitMajor=${major} -X ${pkg}.gitMinor=${minor}`
      return { packages, ldflags: `${stamp('k8s.io/component-base/version')} ${stamp('k8s.io/client-go/pkg/version')}` }
    }
  },
  etcd: {
    what: `etcd ${ETCD_VERSION} (half a minute)`,
    folder: `etcd-${ETCD_VERSION}`,
    binaries: ['etcd'],
    async prepare (dir) {
      writeFileSync(join(dir, 'go.mod'), 'module etcd\n\ngo 1.26\n')
      writeFileSync(join(dir, 'main.go'), 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n')
      await go(dir, ['get', `go.etcd.io/etcd/server/v3@${ETCD_VERSION}`], { GOFLAGS: '-mod=mod' }, DOWNLOADED)
      await go(dir, ['mod', 'tidy'], { GOFLAGS: '-mod=mod' }, DOWNLOADED)
      return { packages: ['.'] }
    }
  },
  coredns: fetched(`CoreDNS ${COREDNS_VERSION} (about 2 minutes)`, 'github.com/coredns/coredns', COREDNS_VERSION),
  helm: fetched(`Helm ${HELM_VERSION} (about 2 minutes)`, 'helm.sh/helm/v4/cmd/helm', HELM_VERSION),
  metricsServer: fetched(`metrics-server ${METRICS_SERVER_VERSION} (about 2 minutes)`, 'sigs.k8s.io/metrics-server/cmd/metrics-server', METRICS_SERVER_VERSION),
  daprControlPlane: {
    what: `Dapr ${DAPR_VERSION}'s control plane (${DAPR_CONTROL_PLANE.join(', ')}; a minute once daprd is built)`,
    folder: `dapr-control-plane-${DAPR_VERSION}`,
    binaries: DAPR_CONTROL_PLANE,
    async prepare (dir) {
      writeFileSync(join(dir, 'go.mod'), daprGoMod('dapr-control-plane-lab'))
      const packages = DAPR_CONTROL_PLANE.map((c) => `github.com/dapr/dapr/cmd/${c}`)
      await go(dir, ['get', ...packages], { GOFLAGS: '-mod=mod' }, DOWNLOADED)
      return { packages, ldflags: `-X github.com/dapr/dapr/pkg/buildinfo.version=${DAPR_VERSION}` }
    }
  },
  pause: {
    what: 'the pods\' pause program (lab/cluster/pause; seconds)',
    folder: 'pause',
    binaries: ['pause'],
    async prepare () {
      return { packages: ['.'], in: join(REPO, 'lab', 'cluster', 'pause') }
    }
  }
} satisfies Record<string, Recipe>

export type Program = keyof typeof RECIPES

const binDir = (program: Program): string => join(K8S_CACHE, 'bin', RECIPES[program].folder)

/** The path of one of a program's binaries (it must have been built: ensurePrograms). */
export function binary (program: Program, name: string = RECIPES[program].binaries[0]!): string {
  return join(binDir(program), name)
}

/** Builds every program that is not in the cache yet, one after the other (they share Go's build cache). */
export async function ensurePrograms (): Promise<void> {
  const missing = (Object.keys(RECIPES) as Program[]).filter((p) => !RECIPES[p].binaries.every((b) => isExecutable(binary(p, b))))
  if (missing.length === 0) return
  await goModCache('npm run k8s builds Kubernetes, etcd, CoreDNS, Helm, metrics-server and Dapr\'s control plane from their Go modules, and Go is not installed.\nFix: install Go 1.26+ (https://go.dev/dl/), then run this again.')
  say(`building ${missing.length} program(s) from their Go modules, once (cached in ${join(K8S_CACHE, 'bin')}):`)
  for (const program of missing) {
    const recipe: Recipe = RECIPES[program]
    const started = Date.now()
    say(`building ${recipe.what}...`)
    const dir = join(K8S_CACHE, 'build', recipe.folder)
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(dir, { recursive: true })
    const { packages, ldflags, in: module = dir } = await recipe.prepare(dir)
    await buildInto(module, packages, binDir(program), ldflags)
    const absent = recipe.binaries.filter((b) => !isExecutable(binary(program, b)))
    if (absent.length > 0) throw new LabError(`building ${recipe.what} left no ${absent.join(', ')} in ${binDir(program)}`)
    say(`${recipe.what.replace(/ \(.*/, '')} built in ${elapsed(started)}`)
  }
}

/** Whether every program is built (for `status`). */
export const programsBuilt = (): boolean => (Object.keys(RECIPES) as Program[]).every((p) => existsSync(binDir(p)))
