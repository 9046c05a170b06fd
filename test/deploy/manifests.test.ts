// deploy/ proved offline: each overlay is rendered with kustomize, every object is
// validated against the Kubernetes API's schemas and Dapr's CRDs, and the manifests are
// held to the local run's names (dapr.yaml, shared/pubsub.ts, components/, brokers/).
// The Dockerfile is checked as text, then its build is replayed without Docker.
// No cluster, no Docker engine: see deploy/README.md for what this does not prove.
import { execFileSync, spawn } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, mkdirSync, symlinkSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { parse, parseAllDocuments } from 'yaml'
import { PUBSUB_NAME, STATE_STORE_NAME, DEFAULT_TOPIC, ORDERS_ROUTE, subscriptions } from '../../shared/pubsub.ts'
import { freePort } from '../../lab/ports.ts'
import { ProcessGroup } from '../../lab/run/group.ts'
import { kustomize as findKustomize } from '../../lab/services/kustomize.ts'
import {
  REPO, KUBERNETES_VERSION, daprVersion, goModuleDir, render, loadValidator,
  injectorAnnotations, componentFields, parseDockerfile,
  type K8sObject, type Validator, type AnnotationType
} from './schemas.ts'

const OVERLAYS = {
  // overlay → the local file its pub/sub component stands for
  redis: 'components/redis.yaml',
  kafka: 'brokers/kafka.yaml'
} as const
type Overlay = keyof typeof OVERLAYS

/**
 * Per component type: the field that holds the broker's (or store's) address and the one
 * that holds its password, both of which must come from a Kubernetes Secret, and the
 * fields that may differ from the local file (how to reach and authenticate to it).
 * Every other field must be as in the local file.
 */
const CONNECTION: Record<string, { address: string, password: string, differs: string[] }> = {
  'pubsub.redis': { address: 'redisHost', password: 'redisPassword', differs: ['redisHost', 'redisPassword'] },
  'state.redis': { address: 'redisHost', password: 'redisPassword', differs: ['redisHost', 'redisPassword'] },
  'pubsub.kafka': {
    address: 'brokers',
    password: 'saslPassword',
    differs: ['brokers', 'authType', 'disableTls', 'saslUsername', 'saslPassword', 'saslMechanism']
  }
}

/** dapr.yaml's per-app keys and the sidecar annotations that mean the same. */
const RUN_FILE_ANNOTATIONS: Record<string, string> = {
  appID: 'dapr.io/app-id',
  appPort: 'dapr.io/app-port',
  appProtocol: 'dapr.io/app-protocol',
  appMaxConcurrency: 'dapr.io/app-max-concurrency',
  enableAppHealthCheck: 'dapr.io/enable-app-health-check',
  appHealthCheckPath: 'dapr.io/app-health-check-path',
  appHealthProbeInterval: 'dapr.io/app-health-probe-interval',
  appHealthProbeTimeout: 'dapr.io/app-health-probe-timeout',
  appHealthThreshold: 'dapr.io/app-health-threshold'
}

// ---------------------------------------------------------------------------------------
// What the local run says

interface LocalApp { appID: string, appPort?: number, [key: string]: unknown }

const readYaml = (path: string): any => parse(readFileSync(join(REPO, path), 'utf8'))
const localApps = (): LocalApp[] => readYaml('dapr.yaml').apps

/** The Component named `name` among the local resource files (components/*.yaml). */
function localComponent (name: string): K8sObject {
  const found = localOfKind('Component').filter(o => o.metadata.name === name)
  if (found.length !== 1) throw new Error(`expected one Component ${name} in components/, found ${found.length}`)
  return found[0]
}

/** Every object in the YAML files of a local folder (components/, subscriptions/). */
function localResources (folder: string): K8sObject[] {
  if (!existsSync(join(REPO, folder))) return []
  return readdirSync(join(REPO, folder)).filter(f => f.endsWith('.yaml'))
    .flatMap(f => parseAllDocuments(readFileSync(join(REPO, folder, f), 'utf8')).map(d => d.toJS() as K8sObject))
    .filter(o => o !== null)
}

const localOfKind = (kind: string): K8sObject[] => localResources('components').filter(o => o.kind === kind)

// ---------------------------------------------------------------------------------------
// Reading rendered objects

const find = (objects: K8sObject[], kind: string, name: string): K8sObject => {
  const found = objects.filter(o => o.kind === kind && o.metadata.name === name)
  expect(found, `${kind}/${name}`).toHaveLength(1)
  return found[0]
}

/** Deployments and Jobs with a Dapr sidecar, by app id. */
function daprWorkloads (objects: K8sObject[]): Map<string, K8sObject> {
  const apps = new Map<string, K8sObject>()
  for (const o of objects.filter(o => ['Deployment', 'Job', 'StatefulSet', 'DaemonSet', 'CronJob'].includes(o.kind))) {
    const annotations = podTemplate(o).metadata?.annotations ?? {}
    if (annotations['dapr.io/enabled'] === 'true') apps.set(annotations['dapr.io/app-id'], o)
  }
  return apps
}

const podTemplate = (o: K8sObject): any => o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template : o.spec.template
const env = (container: any, name: string): any => (container.env ?? []).find((e: any) => e.name === name)

interface SecretRef { name: string, key: string, where: string }

/** Every Kubernetes Secret (name, key) the rendered objects need. */
function secretRefs (objects: K8sObject[]): SecretRef[] {
  const refs: SecretRef[] = []
  for (const o of objects) {
    if (o.kind === 'Component' && o.auth?.secretStore === 'kubernetes') {
      for (const m of o.spec.metadata ?? []) {
        if (m.secretKeyRef) refs.push({ name: m.secretKeyRef.name, key: m.secretKeyRef.key ?? m.secretKeyRef.name, where: `Component/${o.metadata.name} ${m.name}` })
      }
    }
    if (!o.spec?.template && !o.spec?.jobTemplate) continue
    const pod = podTemplate(o)
    for (const a of ['dapr.io/api-token-secret', 'dapr.io/app-token-secret']) {
      const name = pod.metadata?.annotations?.[a]
      if (name) refs.push({ name, key: 'token', where: `${o.kind}/${o.metadata.name} ${a}` })
    }
    for (const c of [...pod.spec.containers, ...(pod.spec.initContainers ?? [])]) {
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef
        if (ref) refs.push({ name: ref.name, key: ref.key, where: `${o.kind}/${o.metadata.name} env ${e.name}` })
      }
    }
  }
  return refs
}

// ---------------------------------------------------------------------------------------
// The checks, as functions of the rendered objects, so that the test can show that each
// one fails on a broken manifest (see "the checks catch").

function checkSchemas (validator: Validator, objects: K8sObject[]): void {
  expect(objects.flatMap(o => validator.validate(o))).toEqual([])
}

function checkApps (objects: K8sObject[]): void {
  const workloads = daprWorkloads(objects)
  const apps = localApps()
  expect([...workloads.keys()].sort(), 'app ids (dapr.yaml)').toEqual(apps.map(a => a.appID).sort())
  for (const app of apps) {
    const workload = workloads.get(app.appID)!
    const pod = podTemplate(workload)
    const annotations: Record<string, string> = pod.metadata.annotations
    for (const [key, annotation] of Object.entries(RUN_FILE_ANNOTATIONS)) {
      expect(annotations[annotation], `${app.appID}: ${annotation} (dapr.yaml ${key})`).toBe(app[key] === undefined ? undefined : String(app[key]))
    }
    const [container] = pod.spec.containers
    expect(pod.spec.containers, `${app.appID}: one app container`).toHaveLength(1)
    expect(env(container, 'ORDERS_TOPIC')?.value, `${app.appID}: ORDERS_TOPIC`).toBe(DEFAULT_TOPIC)
    if (app.appPort === undefined) {
      expect(container.ports ?? [], `${app.appID} serves nothing`).toEqual([])
      continue
    }
    // The app listens where its sidecar and probes look.
    expect(env(container, 'APP_PORT')?.value, `${app.appID}: APP_PORT`).toBe(String(app.appPort))
    expect(env(container, 'APP_HOST')?.value, `${app.appID}: APP_HOST (kubelet probes come to the pod IP)`).toBe('0.0.0.0')
    const portOf = (p: number | string): number => typeof p === 'number' ? p : container.ports.find((cp: any) => cp.name === p)?.containerPort
    expect(container.ports.map((p: any) => p.containerPort), `${app.appID}: containerPort`).toEqual([app.appPort])
    for (const probe of ['readinessProbe', 'livenessProbe']) {
      expect(container[probe]?.httpGet, `${app.appID}: ${probe}`).toBeDefined()
      expect(portOf(container[probe].httpGet.port), `${app.appID}: ${probe} port`).toBe(app.appPort)
      expect(container[probe].httpGet.path, `${app.appID}: ${probe} path`).toBe(app.appHealthCheckPath ?? '/healthz')
    }
  }
}

function checkPubsub (objects: K8sObject[], overlay: Overlay): void {
  const component = find(objects, 'Component', PUBSUB_NAME)
  const local = readYaml(OVERLAYS[overlay]) as K8sObject
  expect(local.metadata.name, `${OVERLAYS[overlay]} is the ${PUBSUB_NAME} component`).toBe(PUBSUB_NAME)
  expect(component.spec.type, `type as in ${OVERLAYS[overlay]}`).toBe(local.spec.type)
  expect(component.spec.version).toBe(local.spec.version)
  expect(component.scopes?.slice().sort(), 'every app may use the pub/sub').toEqual(localApps().map(a => a.appID).sort())

  // Declarative subscriptions: exactly what the order-processor would announce itself.
  const declared = objects.filter(o => o.kind === 'Subscription').map(s => {
    expect(s.apiVersion).toBe('dapr.io/v2alpha1')
    expect(s.scopes, `Subscription/${s.metadata.name} scopes`).toEqual(['order-processor'])
    expect(s.spec.routes.rules, 'no routing rules').toBeUndefined()
    return { pubsubname: s.spec.pubsubname, topic: s.spec.topic, route: s.spec.routes.default, ...(s.spec.deadLetterTopic ? { deadLetterTopic: s.spec.deadLetterTopic } : {}) }
  })
  expect(declared, 'Subscriptions = subscriptions(DEFAULT_TOPIC) of shared/pubsub.ts').toEqual(subscriptions(DEFAULT_TOPIC))
  expect(declared.find(s => s.topic === DEFAULT_TOPIC)?.route).toBe(ORDERS_ROUTE)

  // The local run's declarative subscriptions (subscriptions/*.yaml): the same, scoped to
  // the same apps among those deployed here.
  const deployed = [...daprWorkloads(objects).keys()]
  const among = (scopes?: string[]): string[] => (scopes ?? deployed).filter(id => deployed.includes(id)).sort()
  const localSubscriptions = localResources('subscriptions').filter(o => o.kind === 'Subscription')
  expect(localSubscriptions.map(s => s.metadata.name).sort(), 'Subscriptions as in subscriptions/').toEqual(objects.filter(o => o.kind === 'Subscription').map(s => s.metadata.name).sort())
  for (const l of localSubscriptions) {
    const s = find(objects, 'Subscription', l.metadata.name)
    expect(s.spec, `Subscription/${l.metadata.name} as in subscriptions/`).toEqual(l.spec)
    expect(among(s.scopes), `Subscription/${l.metadata.name} scopes`).toEqual(among(l.scopes))
  }
  // ... and they are the ones in effect: the subscribing app announces none of its own.
  for (const id of new Set(objects.filter(o => o.kind === 'Subscription').flatMap(s => s.scopes ?? []))) {
    expect(env(podTemplate(daprWorkloads(objects).get(id)!).spec.containers[0], 'SUBSCRIPTIONS')?.value, `${id}: SUBSCRIPTIONS`).toBe('declarative')
  }
}

/** A cluster component against the local file it stands for. */
function checkComponentLikeLocal (component: K8sObject, local: K8sObject): void {
  const type = component.spec.type
  const connection = CONNECTION[type]
  expect(connection, `a CONNECTION entry for ${type}`).toBeDefined()
  expect(component.auth?.secretStore, `${component.metadata.name}: secrets from Kubernetes`).toBe('kubernetes')
  const fields = new Map<string, any>(component.spec.metadata.map((m: any) => [m.name, m]))
  for (const name of [connection.address, connection.password]) {
    const ref = fields.get(name)?.secretKeyRef
    expect(ref?.name && ref?.key, `${component.metadata.name}: ${name} from a Secret`).toBeTruthy()
  }
  const same = (list: any[]): Record<string, unknown> => Object.fromEntries(list.filter(m => !connection.differs.includes(m.name)).map(m => [m.name, m.secretKeyRef ?? m.value]))
  expect(same(component.spec.metadata), `${component.metadata.name}: settings as in the local component`).toEqual(same(local.spec.metadata))
}

function checkComponents (objects: K8sObject[], overlay: Overlay, contribDir: string): void {
  checkComponentLikeLocal(find(objects, 'Component', PUBSUB_NAME), readYaml(OVERLAYS[overlay]))
  const store = find(objects, 'Component', STATE_STORE_NAME)
  const localStore = localComponent(STATE_STORE_NAME)
  expect(store.spec.type).toBe(localStore.spec.type)
  // Scoped to the same apps, among those deployed here (a local app that deploy/ does not
  // have yet fails checkApps, not this).
  const deployed = [...daprWorkloads(objects).keys()]
  const among = (scopes?: string[]): string[] => (scopes ?? deployed).filter(id => deployed.includes(id)).sort()
  expect(among(store.scopes), `${STATE_STORE_NAME} scopes`).toEqual(among(localStore.scopes))
  checkComponentLikeLocal(store, localStore)

  // Against Dapr's own description of each component: known fields, allowed values, and
  // no sensitive field (passwords, keys) as a literal.
  for (const c of objects.filter(o => o.kind === 'Component')) {
    const known = componentFields(contribDir, c.spec.type)
    for (const m of c.spec.metadata) {
      const field = known.get(m.name)
      expect(field, `${c.metadata.name}: ${c.spec.type} has no field ${m.name}`).toBeDefined()
      if (field!.sensitive) expect(m.secretKeyRef, `${c.metadata.name}: ${m.name} is sensitive: from a Secret`).toBeDefined()
      if (field!.allowedValues && m.value !== undefined) expect(field!.allowedValues, `${c.metadata.name}: ${m.name}`).toContain(String(m.value))
    }
  }
}

function checkResiliencyAndTracing (objects: K8sObject[]): void {
  const resiliencies = objects.filter(o => o.kind === 'Resiliency')
  expect(resiliencies).toHaveLength(1)
  const [resiliency] = resiliencies
  const [local] = localOfKind('Resiliency')
  expect(resiliency.spec, 'the same policy as components/resiliency.yaml').toEqual(local.spec)
  expect(resiliency.scopes?.slice().sort(), 'scoped to both apps').toEqual(localApps().map(a => a.appID).sort())
  const { policies, targets } = resiliency.spec
  expect(targets.components[PUBSUB_NAME]?.inbound?.retry, 'retries for delivery').toBeDefined()
  expect(targets.components[PUBSUB_NAME]?.outbound?.retry, 'retries for publishing').toBeDefined()
  for (const [name, target] of Object.entries<any>(targets.components)) {
    find(objects, 'Component', name)
    for (const direction of Object.values<any>(target)) {
      if (direction.retry) expect(policies.retries, `retry policy ${direction.retry}`).toHaveProperty([direction.retry])
      if (direction.timeout) expect(policies.timeouts, `timeout ${direction.timeout}`).toHaveProperty([direction.timeout])
      if (direction.circuitBreaker) expect(policies.circuitBreakers, `circuit breaker ${direction.circuitBreaker}`).toHaveProperty([direction.circuitBreaker])
    }
  }

  for (const [id, workload] of daprWorkloads(objects)) {
    const config = podTemplate(workload).metadata.annotations['dapr.io/config']
    expect(config, `${id}: dapr.io/config`).toBe('tracing')
    find(objects, 'Configuration', config)
  }
  const configuration = find(objects, 'Configuration', 'tracing')
  expect(configuration.spec.tracing.samplingRate).toBe('1')
  expect(configuration.spec.tracing.zipkin.endpointAddress).toMatch(/^https?:\/\/.+\/api\/v2\/spans$/)
  // The local run's configuration (dapr.yaml configFilePath), when it has one: the same
  // but for where the spans go (a cluster's Zipkin, not loopback).
  const runFile = readYaml('dapr.yaml')
  const paths = new Set([runFile.common?.configFilePath, ...localApps().map(a => a.configFilePath)].filter(Boolean))
  for (const path of paths) {
    const local = readYaml(path as string) as K8sObject
    expect(configuration.metadata.name, `Configuration name as in ${path}`).toBe(local.metadata.name)
    const withoutEndpoint = (spec: any): any => ({ ...spec, tracing: { ...spec.tracing, zipkin: { ...spec.tracing?.zipkin, endpointAddress: undefined } } })
    expect(withoutEndpoint(configuration.spec), `Configuration as in ${path}, but for the Zipkin address`).toEqual(withoutEndpoint(local.spec))
  }
}

function checkAnnotations (objects: K8sObject[], known: Map<string, AnnotationType>): void {
  for (const [id, workload] of daprWorkloads(objects)) {
    for (const [key, value] of Object.entries<string>(podTemplate(workload).metadata.annotations)) {
      if (!key.startsWith('dapr.io/')) continue
      const type = known.get(key)
      expect(type, `${id}: ${key} is not an annotation of Dapr's injector`).toBeDefined()
      if (type === 'bool') expect(['true', 'false'], `${id}: ${key}`).toContain(value)
      if (type === 'int') expect(value, `${id}: ${key}`).toMatch(/^\d+$/)
    }
  }
}

function checkSecrets (objects: K8sObject[]): void {
  // A token annotation gives the token to the sidecar only; the app needs the same one.
  for (const [id, workload] of daprWorkloads(objects)) {
    const pod = podTemplate(workload)
    const [container] = pod.spec.containers
    for (const [annotation, variable] of [['dapr.io/api-token-secret', 'DAPR_API_TOKEN'], ['dapr.io/app-token-secret', 'APP_API_TOKEN']]) {
      const secret = pod.metadata.annotations[annotation]
      if (annotation === 'dapr.io/api-token-secret' || pod.metadata.annotations['dapr.io/app-port']) {
        expect(secret, `${id}: ${annotation}`).toBeDefined()
      }
      if (secret) expect(env(container, variable)?.valueFrom?.secretKeyRef, `${id}: ${variable}`).toEqual({ name: secret, key: 'token' })
    }
    const literals = pod.spec.containers.flatMap((c: any) => c.env ?? []).filter((e: any) => e.value !== undefined && /TOKEN|PASSWORD|SECRET/.test(e.name))
    expect(literals, `${id}: tokens and passwords as literals`).toEqual([])
  }
  // Each Secret the manifests need is created in deploy/README.md, key by key.
  const readme = readFileSync(join(REPO, 'deploy/README.md'), 'utf8').replace(/\\\n/g, ' ')
  const documented = new Map<string, Set<string>>()
  for (const m of readme.matchAll(/kubectl create secret generic ([\w.-]+)((?:\s+--from-literal=[\w.-]+=\S*)+)/g)) {
    documented.set(m[1], new Set([...m[2].matchAll(/--from-literal=([\w.-]+)=/g)].map(k => k[1])))
  }
  for (const ref of secretRefs(objects)) {
    expect(documented.get(ref.name)?.has(ref.key), `${ref.where}: Secret ${ref.name} key ${ref.key} created in deploy/README.md`).toBe(true)
  }
}

function checkPods (objects: K8sObject[], imageUser: number): void {
  for (const [id, workload] of daprWorkloads(objects)) {
    const pod = podTemplate(workload).spec
    expect(pod.securityContext?.runAsNonRoot, `${id}: runAsNonRoot`).toBe(true)
    expect(pod.securityContext?.runAsUser, `${id}: runAsUser = the image's USER`).toBe(imageUser)
    for (const c of pod.containers) {
      for (const kind of ['requests', 'limits']) {
        for (const resource of ['cpu', 'memory']) expect(c.resources?.[kind]?.[resource], `${id}/${c.name}: ${kind}.${resource}`).toBeDefined()
      }
      expect(c.securityContext, `${id}/${c.name}: securityContext`).toMatchObject({
        allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }
      })
      expect(c.image, `${id}: image`).toMatch(/^dapr-pubsub-lab\/[\w-]+:\S+$/)
    }
    for (const resource of ['cpu', 'memory']) {
      for (const kind of ['request', 'limit']) expect(podTemplate(workload).metadata.annotations[`dapr.io/sidecar-${resource}-${kind}`], `${id}: sidecar ${resource} ${kind}`).toBeDefined()
    }
  }

  // The order-processor scales on its CPU; the autoscaler owns its replica count.
  const deployment = find(objects, 'Deployment', 'order-processor')
  expect(deployment.spec.replicas, 'no replicas: the HPA sets them').toBeUndefined()
  const hpa = find(objects, 'HorizontalPodAutoscaler', 'order-processor')
  expect(hpa.apiVersion).toBe('autoscaling/v2')
  expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'order-processor' })
  const containers = deployment.spec.template.spec.containers.map((c: any) => c.name)
  for (const metric of hpa.spec.metrics) {
    const resource = metric.containerResource ?? metric.resource
    expect(resource?.name, 'an HPA on CPU').toBe('cpu')
    if (metric.containerResource) expect(containers).toContain(metric.containerResource.container)
  }
  expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(1)
  expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas)

  // The checkout runs to completion: a Job whose sidecar ends with it.
  const job = find(objects, 'Job', 'checkout')
  expect(job.spec.template.spec.restartPolicy).toBe('Never')
  expect(job.spec.template.metadata.annotations['dapr.io/enable-native-sidecar']).toBe('true')

  // Dapr's resources come before the pods that load them.
  const order = objects.map(o => o.kind)
  const lastDapr = Math.max(...['Component', 'Configuration', 'Resiliency', 'Subscription'].map(k => order.lastIndexOf(k)))
  const firstWorkload = Math.min(...['Deployment', 'Job'].map(k => order.indexOf(k)))
  expect(lastDapr, 'Dapr resources rendered before the workloads').toBeLessThan(firstWorkload)
}

// ---------------------------------------------------------------------------------------

const dockerfile = readFileSync(join(REPO, 'deploy/Dockerfile'), 'utf8')
const stages = parseDockerfile(dockerfile)
const finalStage = stages.at(-1)!

/** The final stage's USER as a number (0 when missing: root). */
function imageUser (): number {
  const user = finalStage.instructions.filter(i => i.op === 'USER').at(-1)?.args ?? '0'
  return /^\d+(:\d+)?$/.test(user) ? Number(user.split(':')[0]) : NaN
}

interface Tools {
  validator: Validator
  annotations: Map<string, AnnotationType>
  contribDir: string
  rendered: Map<Overlay, K8sObject[]>
}
let tools: Tools | undefined
let setupError: unknown

// Provisioning that fails makes every test below fail with its message (none is skipped).
beforeAll(async () => {
  try {
    const daprDir = goModuleDir('github.com/dapr/dapr', daprVersion())
    const contribVersion = /^\s*github\.com\/dapr\/components-contrib (v\S+)/m.exec(readFileSync(join(daprDir, 'go.mod'), 'utf8'))?.[1]
    if (!contribVersion) throw new Error(`components-contrib not required in ${daprDir}/go.mod`)
    const kustomize = await findKustomize()
    tools = {
      validator: loadValidator(goModuleDir('k8s.io/kubernetes', KUBERNETES_VERSION), daprDir),
      annotations: injectorAnnotations(daprDir),
      contribDir: goModuleDir('github.com/dapr/components-contrib', contribVersion),
      rendered: new Map((Object.keys(OVERLAYS) as Overlay[]).map(o => [o, render(kustomize, join(REPO, 'deploy/overlays', o))]))
    }
  } catch (err) {
    setupError = err
  }
}, 900_000)

function ready (): Tools {
  if (!tools) throw setupError ?? new Error('the deploy test\'s setup did not run')
  return tools
}

describe.each(Object.keys(OVERLAYS) as Overlay[])('deploy/overlays/%s', overlay => {
  const objects = (): K8sObject[] => ready().rendered.get(overlay)!

  test(`every object is valid for Kubernetes ${KUBERNETES_VERSION} and Dapr's CRDs`, () => {
    expect(objects().map(o => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'Component/orderpubsub', 'Component/statestore', 'Configuration/tracing', 'Deployment/order-processor',
      'HorizontalPodAutoscaler/order-processor', 'Job/checkout', 'Resiliency/order-delivery',
      'Subscription/orders', 'Subscription/orders-deadletter'
    ])
    checkSchemas(ready().validator, objects())
    // One label on everything, for kubectl get/delete -l app.kubernetes.io/part-of=dapr-pubsub-lab.
    for (const o of objects()) expect(o.metadata.labels?.['app.kubernetes.io/part-of'], `${o.kind}/${o.metadata.name}`).toBe('dapr-pubsub-lab')
  })
  test('app ids, app port, health checks and topic are those of dapr.yaml', () => checkApps(objects()))
  test(`pub/sub ${PUBSUB_NAME}, its type and the subscriptions match ${OVERLAYS[overlay]} and shared/pubsub.ts`, () => checkPubsub(objects(), overlay))
  test('components: as locally, with addresses and passwords from Secrets, fields known to Dapr', () => checkComponents(objects(), overlay, ready().contribDir))
  test('resiliency (components/resiliency.yaml) and tracing configuration', () => checkResiliencyAndTracing(objects()))
  test("every dapr.io annotation is one Dapr's sidecar injector reads, with a value of its type", () => checkAnnotations(objects(), ready().annotations))
  test('tokens from Secrets for sidecar and app alike; every Secret documented in deploy/README.md', () => checkSecrets(objects()))
  test('pods: non-root, resources, read-only root; HPA on the order-processor; checkout as a Job', () => checkPods(objects(), imageUser()))
})

describe('the checks catch', () => {
  // Outside the expect(...).toThrow() below, where a setup failure would pass for a catch.
  beforeEach(() => { ready() })
  const broken = (change: (objects: K8sObject[]) => void): K8sObject[] => {
    const objects = structuredClone(ready().rendered.get('redis')!)
    change(objects)
    return objects
  }
  const deployment = (objects: K8sObject[]): any => objects.find(o => o.kind === 'Deployment')!
  const component = (objects: K8sObject[]): any => objects.find(o => o.kind === 'Component' && o.metadata.name === PUBSUB_NAME)!

  test('a wrong app port', () => {
    expect(() => checkApps(broken(o => { deployment(o).spec.template.metadata.annotations['dapr.io/app-port'] = '6002' }))).toThrow(/app-port/)
    expect(() => checkApps(broken(o => { deployment(o).spec.template.spec.containers[0].ports[0].containerPort = 6002 }))).toThrow()
  })
  test('a wrong app id, topic, route or component type', () => {
    expect(() => checkApps(broken(o => { deployment(o).spec.template.metadata.annotations['dapr.io/app-id'] = 'orders' }))).toThrow(/app ids/)
    expect(() => checkPubsub(broken(o => { o.find(s => s.kind === 'Subscription')!.spec.topic = 'order' }), 'redis')).toThrow()
    expect(() => checkPubsub(broken(o => { o.find(s => s.kind === 'Subscription')!.spec.routes.default = '/order' }), 'redis')).toThrow()
    expect(() => checkPubsub(broken(o => { component(o).spec.type = 'pubsub.kafka' }), 'redis')).toThrow(/type/)
  })
  test('a password as a literal, an unknown component field, a typo in an annotation', () => {
    expect(() => checkComponents(broken(o => { component(o).spec.metadata[1] = { name: 'redisPassword', value: 'hunter2' } }), 'redis', ready().contribDir)).toThrow()
    expect(() => checkComponents(broken(o => { component(o).spec.metadata.push({ name: 'redeliveryInterval', value: '5s' }) }), 'redis', ready().contribDir)).toThrow()
    expect(() => checkAnnotations(broken(o => { deployment(o).spec.template.metadata.annotations['dapr.io/app-token'] = 'x' }), ready().annotations)).toThrow(/injector/)
  })
  test('what the API server would refuse: an unknown field, a wrong type, an unknown kind', () => {
    const errors = (change: (objects: K8sObject[]) => void): string[] => broken(change).flatMap(o => ready().validator.validate(o))
    expect(errors(o => { deployment(o).spec.template.spec.containers[0].readinesProbe = {} })).toEqual([expect.stringMatching(/additional properties \(readinesProbe\)/)])
    expect(errors(o => { deployment(o).spec.template.spec.containers[0].ports[0].containerPort = '6001' })).toEqual([expect.stringMatching(/containerPort: must be integer/)])
    expect(errors(o => { o.find(s => s.kind === 'Subscription')!.spec.route = '/orders' })).toEqual([expect.stringMatching(/additional properties \(route\)/)])
    expect(errors(o => { delete component(o).spec.version })).toEqual([expect.stringMatching(/required property 'version'/)])
    expect(errors(o => { o.push({ apiVersion: 'dapr.io/v1alpha1', kind: 'Binding', metadata: { name: 'x' } }) })).toEqual([expect.stringMatching(/unknown apiVersion\/kind/)])
  })
  test('a Secret the README does not create, a pod running as root', () => {
    expect(() => checkSecrets(broken(o => { component(o).spec.metadata[1].secretKeyRef.name = 'redis' }))).toThrow(/README/)
    expect(() => checkPods(broken(o => { delete deployment(o).spec.template.spec.securityContext.runAsNonRoot }), imageUser())).toThrow(/runAsNonRoot/)
  })
})

describe('deploy/Dockerfile', () => {
  const stage = (name: string) => stages.find(s => s.name === name)
  const copiesFrom = (s: typeof finalStage, from: string) => s.instructions.filter(i => i.op === 'COPY' && i.args.includes(`--from=${from}`))

  test('multi-stage; the final stage runs compiled JavaScript as a numeric non-root user', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2)
    expect(imageUser(), 'USER <uid>[:<gid>], not 0 (numeric, so Kubernetes can check runAsNonRoot)').toBeGreaterThan(0)
    const cmd = finalStage.instructions.filter(i => i.op === 'CMD' || i.op === 'ENTRYPOINT').map(i => i.args).join(' ')
    expect(cmd).toMatch(/"node"/)
    expect(cmd).not.toMatch(/tsx/)
    expect(finalStage.instructions.filter(i => i.op === 'RUN'), 'nothing installed in the final stage').toEqual([])
  })
  test('production dependencies only: node_modules comes from a stage that ran npm ci --omit=dev', () => {
    const modules = finalStage.instructions.filter(i => i.op === 'COPY' && /node_modules/.test(i.args))
    expect(modules).toHaveLength(1)
    const from = /--from=(\S+)/.exec(modules[0].args)?.[1]
    const deps = stage(from ?? '')
    expect(deps, `stage ${from}`).toBeDefined()
    const installs = deps!.instructions.filter(i => i.op === 'RUN' && /\bnpm (ci|install)\b/.test(i.args))
    expect(installs.length).toBeGreaterThan(0)
    for (const i of installs) expect(i.args).toMatch(/npm ci --omit=dev/)
  })
  test('the build stage compiles and assembles with lab/build.ts; .dockerignore lets in only what is copied', () => {
    const build = stages.find(s => s.instructions.some(i => i.op === 'RUN' && /^node --import tsx lab\/build\.ts "\$APP" \/out$/.test(i.args)))
    expect(build, 'a stage that runs node --import tsx lab/build.ts "$APP" /out').toBeDefined()
    expect(copiesFrom(finalStage, build!.name!)).toHaveLength(1)
    const ignore = readFileSync(join(REPO, 'deploy/Dockerfile.dockerignore'), 'utf8').split('\n').map(l => l.trim()).filter(l => l && !l.startsWith('#'))
    expect(ignore[0], 'everything excluded first').toBe('*')
    const allowed = ignore.filter(l => l.startsWith('!')).map(l => l.slice(1))
    const sources = stages.flatMap(s => s.instructions).filter(i => i.op === 'COPY' && !i.args.includes('--from='))
      .flatMap(i => i.args.split(/\s+/).slice(0, -1))
    for (const source of sources) expect(allowed, `COPY ${source}`).toContain(source)
    expect(allowed).not.toContain('.env')
  })

  // The image's build, without Docker: compile and assemble each app as the build stage
  // does (lab/build.ts), install the production dependencies as the deps stage
  // does, and run `node main.js` in the result as the final stage would.
  describe('replayed without Docker', () => {
    let dir: string
    let failure: Error | undefined
    const step = (what: string, command: string, args: string[], cwd: string): void => {
      try {
        execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 })
      } catch (err) {
        const e = err as { stdout?: string, stderr?: string, message: string }
        throw new Error(`${what} failed (as \`docker build\` would): ${command} ${args.join(' ')}\n${e.stdout ?? ''}${e.stderr ?? e.message}`)
      }
    }
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'dapr-lab-image-'))
      try {
        const deps = join(dir, 'deps')
        mkdirSync(deps)
        for (const f of ['package.json', 'package-lock.json']) cpSync(join(REPO, f), join(deps, f))
        step('the deps stage\'s install', 'npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], deps)
        for (const app of ['order-processor', 'checkout']) {
          step(`the build stage for ${app}`, process.execPath, ['--import', 'tsx', 'lab/build.ts', app, join(dir, app)], REPO)
          // The final stage: node_modules from deps, package.json, the assembled app.
          symlinkSync(join(deps, 'node_modules'), join(dir, app, 'node_modules'))
          cpSync(join(REPO, 'package.json'), join(dir, app, 'package.json'))
        }
      } catch (err) {
        failure = err as Error
      }
      return () => rmSync(dir, { recursive: true, force: true })
    }, 300_000)
    // A failed step fails each test below with its output (none is skipped).
    beforeEach(() => { if (failure) throw failure })

    test('only production packages are installed (no tsx, typescript, vitest)', () => {
      // npm's record of what it installed, against the lock file's dev-only marks.
      const installed = Object.keys(JSON.parse(readFileSync(join(dir, 'deps/node_modules/.package-lock.json'), 'utf8')).packages)
      const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')).packages
      expect(installed.length).toBeGreaterThan(0)
      expect(installed.filter(p => lock[p]?.dev === true), 'dev-only packages').toEqual([])
      for (const tool of ['tsx', 'typescript', 'vitest']) expect(installed).not.toContain(`node_modules/${tool}`)
    })

    test('the order-processor starts with plain node and answers GET /healthz', async () => {
      const port = await freePort()
      const app = new ProcessGroup(process.execPath, ['main.js'], {
        cwd: join(dir, 'order-processor'),
        env: { PATH: process.env.PATH, NODE_ENV: 'production', APP_HOST: '127.0.0.1', APP_PORT: String(port), LOG_FORMAT: 'json' }
      })
      try {
        let answer: Response | undefined
        await app.until('an answer on /healthz', async () => (answer = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined)) !== undefined, 10_000)
        expect(answer?.status, `the app's output:\n${app.output}`).toBe(200)
        expect(await answer!.json()).toEqual({ status: 'ok' })
      } finally {
        await app.stop()
      }
    }, 30_000)

    test('the checkout runs with plain node and publishes its orders through a sidecar', async () => {
      // A stand-in for the sidecar's HTTP API: answers the client's metadata call, and
      // accepts every publish.
      const published: string[] = []
      const sidecar = createServer((request, response) => {
        const path = request.url!.split('?')[0]
        if (request.method === 'POST') published.push(path)
        request.resume().on('end', () => {
          if (request.method === 'GET' && path === '/v1.0/metadata') response.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"checkout"}')
          else response.writeHead(204).end()
        })
      })
      await new Promise<void>(resolve => sidecar.listen(0, '127.0.0.1', resolve))
      try {
        const { code, output } = await run(join(dir, 'checkout'), ['main.js'], {
          DAPR_HTTP_PORT: String(port(sidecar)), ORDER_COUNT: '3', PUBLISH_INTERVAL_MS: '0', LOG_FORMAT: 'json'
        })
        expect(code, output).toBe(0)
        expect(published).toEqual(Array(3).fill(`/v1.0/publish/${PUBSUB_NAME}/${DEFAULT_TOPIC}`))
      } finally {
        sidecar.close()
      }
    }, 30_000)
  })
})

const port = (server: Server): number => (server.address() as { port: number }).port


async function run (cwd: string, args: string[], extraEnv: Record<string, string>): Promise<{ code: number | null, output: string }> {
  const child = spawn(process.execPath, args, { cwd, env: { PATH: process.env.PATH, NODE_ENV: 'production', ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', d => { output += d })
  child.stderr.on('data', d => { output += d })
  const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
  return { code, output }
}
