// The Dapr runtime (daprd) the sidecars run: an existing install is used as it is (daprd
// under $DAPR_RUNTIME_PATH/.dapr/bin or ~/.dapr/bin, what `dapr init [--slim]` leaves);
// otherwise daprd is built once from Dapr's Go module into the cache (BUILT_RUNTIME), laid
// out like `dapr init --slim`. DAPR_LAB_FORCE_BUILD ignores existing installs.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { execa } from 'execa'
import { isExecutable } from '../processes.ts'
import { BUILT_RUNTIME, CACHE, DAPR_VERSION, daprdOf, runtimeRoots, say } from '../settings.ts'
import { COMPILED, DOWNLOADED, elapsed, go, goModCache, writable } from './go.ts'

export interface DaprRuntime {
  /** What DAPR_RUNTIME_PATH must be for the Dapr CLI (or the project's runner) to use it. */
  root: string
  daprd: string
  origin: 'DAPR_RUNTIME_PATH' | 'dapr init' | 'built'
}

// The lab component set. Dapr's official tag sets (allcomponents, stablecomponents) cannot
// be built from the Go module proxy alone: pubsub.pulsar needs github.com/iskorotkov/avro
// and the twmb pulsar fork, which the proxy does not serve. So daprd is built with Dapr's
// own cmd/daprd sources and only these component registrations (files of
// cmd/daprd/components in the dapr module); add a name here to get one more (a daprd built
// with another list is rebuilt). The Kubernetes secret store and name resolution are for
// the same daprd as the sidecar of `npm run k8s`.
const LAB_COMPONENTS = [
  'pubsub_redis', 'pubsub_kafka', 'pubsub_rabbitmq', 'pubsub_mqtt3', 'pubsub_jetstream', 'pubsub_in-memory',
  'state_redis', 'state_in-memory', 'lock_redis', 'configuration_redis',
  'secretstores_local_env', 'secretstores_local_file', 'secretstores_kubernetes',
  'bindings_cron', 'bindings_http', 'bindings_localstorage',
  'nameresolution_mdns', 'nameresolution_kubernetes'
]

/** Beside a built daprd: the components it was built with. */
const componentsFile = (daprd: string): string => `${daprd}.components`

// dapr's go.mod has replace directives, so `go install .../cmd/daprd@v...` is refused; a
// wrapper module (daprd's here, the control plane's in lab/cluster/binaries.ts) repeats
// them. durabletask-go is pinned to the build dapr v1.18.2 used, because the proxy does not
// serve the v0.12.4 that v1.18.3 asks for.
export const daprGoMod = (module: string): string => `module ${module}

go 1.26.6

require github.com/dapr/dapr v${DAPR_VERSION}

replace (
\tdubbo.apache.org/dubbo-go/v3 => dubbo.apache.org/dubbo-go/v3 v3.0.3-0.20230118042253-4f159a2b38f3
\tgithub.com/apache/pulsar-client-go v0.18.0 => github.com/twmb/pulsar-client-go v0.20.1-0.20260624144353-90eefc81f70a
\tgopkg.in/couchbaselabs/gocbconnstr.v1 => github.com/couchbaselabs/gocbconnstr v1.0.5
\tgithub.com/chenzhuoyu/iasm => github.com/chenzhuoyu/iasm v0.9.0
\tgithub.com/chzyer/logex => github.com/chzyer/logex v1.2.1
\tgithub.com/gobwas/pool => github.com/gobwas/pool v0.2.1
\tgithub.com/toolkits/concurrent => github.com/niean/gotools v0.0.0-20151221085310-ff3f51fc5c60
\tgithub.com/dapr/durabletask-go => github.com/dapr/durabletask-go v0.12.2-0.20260720132056-79042da5fe61
)
`

// What `dapr init --slim` writes next to the binary.
const CONFIG_YAML = `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: daprConfig
spec: {}
`

function originOf (root: string): DaprRuntime['origin'] {
  if (resolve(root) === resolve(BUILT_RUNTIME)) return 'built'
  return root === process.env.DAPR_RUNTIME_PATH ? 'DAPR_RUNTIME_PATH' : 'dapr init'
}

/** Whether the project's daprd is built, with today's component list. */
function builtIsCurrent (daprd: string): boolean {
  return isExecutable(daprd) && existsSync(componentsFile(daprd)) && readFileSync(componentsFile(daprd), 'utf8') === LAB_COMPONENTS.join('\n')
}

/** The runtime ensureDaprRuntime() would use without building one, or undefined (for the doctor). */
export function findDaprRuntime (): DaprRuntime | undefined {
  const roots = process.env.DAPR_LAB_FORCE_BUILD ? [] : runtimeRoots()
  for (const root of roots) {
    const daprd = daprdOf(root)
    if (isExecutable(daprd)) return { root, daprd, origin: originOf(root) }
  }
  const daprd = daprdOf(BUILT_RUNTIME)
  return builtIsCurrent(daprd) ? { root: BUILT_RUNTIME, daprd, origin: 'built' } : undefined
}

/** The runtime to run the sidecars with: an existing install, else the project's own build (built on first use). */
export async function ensureDaprRuntime (): Promise<DaprRuntime> {
  const found = findDaprRuntime()
  if (found) {
    const { stdout, failed } = await execa(found.daprd, ['--version'], { reject: false })
    say(`using daprd ${failed ? '?' : stdout.trim()} from ${join(found.root, '.dapr', 'bin')}`)
    if (found.origin !== 'built') return found
  }
  return builtDaprRuntime()
}

/** The project's own daprd v${DAPR_VERSION} (what the cluster's sidecar image holds), built on first use. */
export async function builtDaprRuntime (): Promise<DaprRuntime> {
  const daprd = daprdOf(BUILT_RUNTIME)
  if (!builtIsCurrent(daprd)) await buildDaprd(daprd)
  mkdirSync(join(BUILT_RUNTIME, '.dapr', 'components'), { recursive: true })
  const config = join(BUILT_RUNTIME, '.dapr', 'config.yaml')
  if (!existsSync(config)) writeFileSync(config, CONFIG_YAML)
  return { root: BUILT_RUNTIME, daprd, origin: 'built' }
}

async function buildDaprd (daprd: string): Promise<void> {
  const modCache = await goModCache('No Dapr runtime found, and Go is not installed to build one.\n' +
    "Fix: install Dapr (https://docs.dapr.io/getting-started/install-dapr-cli/ then 'dapr init --slim'), or install Go 1.26+ and run this again.")

  const started = Date.now()
  say(`building daprd v${DAPR_VERSION} from Dapr's Go module (one time only; about 3 minutes on 2 cores with a fast network).`)
  say(`components: ${LAB_COMPONENTS.join(' ')}`)
  const wrap = join(CACHE, `daprd-build-${DAPR_VERSION}`)
  rmSync(wrap, { recursive: true, force: true })
  mkdirSync(wrap, { recursive: true })
  mkdirSync(join(BUILT_RUNTIME, '.dapr', 'bin'), { recursive: true })
  writeFileSync(join(wrap, 'go.mod'), daprGoMod('daprd-lab'))

  say(`downloading github.com/dapr/dapr@v${DAPR_VERSION}...`)
  await go(wrap, ['mod', 'download', `github.com/dapr/dapr@v${DAPR_VERSION}`], { GOFLAGS: '-mod=mod' })
  const src = join(modCache, `github.com/dapr/dapr@v${DAPR_VERSION}`, 'cmd', 'daprd')
  cpSync(join(src, 'main.go'), join(wrap, 'main.go'))
  for (const dir of ['app', 'options']) cpSync(join(src, dir), join(wrap, dir), { recursive: true })
  mkdirSync(join(wrap, 'components'))
  for (const c of LAB_COMPONENTS) cpSync(join(src, 'components', `${c}.go`), join(wrap, 'components', `${c}.go`))
  writable(wrap)
  // Point the copied packages at each other instead of at the full component set.
  const goFiles = ['main.go', ...['app', 'options'].flatMap(d => readdirSync(join(wrap, d)).filter(f => f.endsWith('.go')).map(f => join(d, f)))]
  for (const file of goFiles.map(f => join(wrap, f))) {
    writeFileSync(file, readFileSync(file, 'utf8').replaceAll('"github.com/dapr/dapr/cmd/daprd/', '"daprd-lab/'))
  }

  say(`resolving dependencies (downloads a few hundred MB into ${modCache} the first time)...`)
  await go(wrap, ['get', '-tags', 'allcomponents', './...'], {}, DOWNLOADED)

  say('compiling daprd (progress: packages compiled)...')
  const tmp = `${daprd}.tmp`
  try {
    await go(wrap, ['build', '-tags', 'allcomponents', '-trimpath', '-v',
      '-ldflags', `-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=${DAPR_VERSION}`,
      '-o', tmp, '.'], { CGO_ENABLED: '0' }, COMPILED)
  } catch (err) {
    rmSync(tmp, { force: true })
    throw err
  }
  // Moved into place only when complete: an interrupted build leaves no daprd behind.
  renameSync(tmp, daprd)
  writeFileSync(componentsFile(daprd), LAB_COMPONENTS.join('\n'))
  say(`daprd built in ${elapsed(started)}: ${daprd}`)
}
