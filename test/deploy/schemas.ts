// What the deploy test needs from outside the repository, all from package registries and
// cached outside it: kustomize (lab/services/kustomize.ts), and three Go modules fetched with
// `go mod download` into Go's module cache:
//   - k8s.io/kubernetes: the Kubernetes API's OpenAPI v3 documents (api/openapi-spec/v3),
//     the schemas the API server itself validates objects against;
//   - github.com/dapr/dapr (the version the local run builds): Dapr's CRDs
//     (charts/dapr/crds) and the sidecar injector's annotations (pkg/injector/patcher);
//   - github.com/dapr/components-contrib (the version that Dapr requires): each
//     component's metadata.yaml, the fields it accepts.
// Nothing here is skipped when missing: a provisioning failure throws, with what to do.
import { execFileSync } from 'node:child_process'
import { readFileSync, readdirSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Ajv, type ValidateFunction } from 'ajv'
import { parse, parseAllDocuments } from 'yaml'
import { DAPR_VERSION } from '../../lab/settings.ts'
import { KUBERNETES_VERSION } from '../../lab/cluster/layout.ts'

export { REPO } from '../../lab/settings.ts'

// The Kubernetes version whose API the manifests are validated against: the one
// `npm run k8s` runs, the oldest minor still supported upstream when this was written, so
// that nothing newer sneaks in.
export { KUBERNETES_VERSION }

/** The Dapr version of the local run (lab/services/dapr-runtime.ts builds daprd from it). */
export function daprVersion (): string {
  return `v${DAPR_VERSION}`
}

/** `go mod download` of module@version; its directory in Go's module cache. */
export function goModuleDir (module: string, version: string): string {
  let out: string
  try {
    out = execFileSync('go', ['mod', 'download', '-json', `${module}@${version}`], {
      // Outside any module, so no go.mod around decides what is downloaded.
      cwd: tmpdir(),
      env: { ...process.env, GOFLAGS: '-mod=mod' },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 600_000
    })
  } catch (err) {
    const e = err as { code?: string, stdout?: string, stderr?: string, message: string }
    if (e.code === 'ENOENT') throw new Error('Go is not installed: the deploy test needs it to download the schemas (k8s.io/kubernetes, github.com/dapr/dapr). Install Go 1.26+.')
    throw new Error(`go mod download ${module}@${version} failed: ${e.stdout || ''}${e.stderr || e.message}`)
  }
  const info = JSON.parse(out) as { Dir?: string, Error?: string }
  if (!info.Dir || info.Error) throw new Error(`go mod download ${module}@${version}: ${info.Error ?? 'no directory'}`)
  return info.Dir
}

export interface K8sObject {
  apiVersion: string
  kind: string
  metadata: { name: string, labels?: Record<string, string>, annotations?: Record<string, string> }
  spec?: any
  scopes?: string[]
  auth?: { secretStore: string }
  [key: string]: any
}

/** `kustomize build DIR`, parsed; the objects in their rendered order. */
export function render (kustomize: string, dir: string): K8sObject[] {
  const out = execFileSync(kustomize, ['build', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  return parseAllDocuments(out).map(doc => {
    if (doc.errors.length > 0) throw new Error(`kustomize build ${dir}: ${doc.errors.join('; ')}`)
    return doc.toJS() as K8sObject
  }).filter(obj => obj !== null)
}

type Schema = Record<string, any>

/**
 * An OpenAPI v3 schema made as strict as the API server is with kubectl's default
 * (`--validate=strict`): an object's unknown fields are errors, except where the schema
 * says x-kubernetes-preserve-unknown-fields. int-or-string becomes what it means.
 */
function strict (schema: any): any {
  if (Array.isArray(schema)) return schema.map(strict)
  if (schema === null || typeof schema !== 'object') return schema
  const out: Schema = {}
  for (const [key, value] of Object.entries(schema)) {
    // Property names are data, not schemas: map over them without treating a property
    // called, say, "type" as a keyword.
    if (key === 'properties') {
      out.properties = Object.fromEntries(Object.entries(value as Schema).map(([k, v]) => [k, strict(v)]))
    } else if (key === 'default' || key === 'example' || key === 'enum') {
      out[key] = value
    } else {
      out[key] = strict(value)
    }
  }
  if (out['x-kubernetes-int-or-string'] === true) {
    delete out.type
    out.anyOf = [{ type: 'integer' }, { type: 'string' }]
  }
  if (out.properties && out.additionalProperties === undefined && out['x-kubernetes-preserve-unknown-fields'] !== true) {
    out.additionalProperties = false
  }
  return out
}

const OBJECT_META = 'k8s.json#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta'

export interface Validator {
  /** Error messages for obj ([] when valid); unknown apiVersion/kind is an error too. */
  validate (obj: K8sObject): string[]
  /** apiVersion/kind pairs it knows, e.g. "apps/v1/Deployment", "dapr.io/v1alpha1/Component". */
  kinds: Set<string>
}

/**
 * Validators for the Kubernetes API (OpenAPI v3 documents of k8s.io/kubernetes) and for
 * Dapr's CRDs (their openAPIV3Schema), one ajv instance for both.
 */
export function loadValidator (kubernetesDir: string, daprDir: string): Validator {
  const specDir = join(kubernetesDir, 'api/openapi-spec/v3')
  const schemas: Schema = {}
  const byKind = new Map<string, string>()
  for (const file of readdirSync(specDir).filter(f => f.endsWith('.json'))) {
    const doc = JSON.parse(readFileSync(join(specDir, file), 'utf8'))
    for (const [name, schema] of Object.entries<Schema>(doc.components?.schemas ?? {})) {
      schemas[name] ??= strict(schema)
      for (const gvk of schema['x-kubernetes-group-version-kind'] ?? []) {
        // Only top-level kinds (objects with metadata), not their List types' items.
        if (schema.properties?.metadata) byKind.set(`${gvk.group ? gvk.group + '/' : ''}${gvk.version}/${gvk.kind}`, name)
      }
    }
  }
  if (byKind.size === 0) throw new Error(`no Kubernetes schemas in ${specDir}`)

  // Formats (int32, int-or-string, date-time, ...) are not checked; types, enums,
  // required fields and unknown fields are.
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false })
  ajv.addSchema({ $id: 'k8s.json', components: { schemas } })
  const validators = new Map<string, () => ValidateFunction>()
  const lazily = (schema: Schema): () => ValidateFunction => {
    let fn: ValidateFunction | undefined
    return () => (fn ??= ajv.compile(schema))
  }
  for (const [kind, name] of byKind) validators.set(kind, lazily({ $ref: `k8s.json#/components/schemas/${name}` }))

  const crdDir = join(daprDir, 'charts/dapr/crds')
  for (const file of readdirSync(crdDir).filter(f => f.endsWith('.yaml'))) {
    for (const doc of parseAllDocuments(readFileSync(join(crdDir, file), 'utf8'))) {
      const crd = doc.toJS()
      if (crd?.kind !== 'CustomResourceDefinition') continue
      for (const version of crd.spec.versions) {
        if (!version.served) continue
        const schema = strict(version.schema.openAPIV3Schema)
        // The API server checks every object's metadata as ObjectMeta, whatever the CRD says.
        schema.properties.metadata = { $ref: OBJECT_META }
        validators.set(`${crd.spec.group}/${version.name}/${crd.spec.names.kind}`, lazily(schema))
      }
    }
  }

  return {
    kinds: new Set(validators.keys()),
    validate (obj) {
      const where = `${obj?.kind}/${obj?.metadata?.name}`
      const get = validators.get(`${obj?.apiVersion}/${obj?.kind}`)
      if (!get) return [`${where}: unknown apiVersion/kind ${obj?.apiVersion}/${obj?.kind} (neither Kubernetes ${KUBERNETES_VERSION} nor a Dapr CRD)`]
      const fn = get()
      const errors = fn(obj) ? [] : (fn.errors ?? []).map(e => `${where}${e.instancePath}: ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`)
      // Names the API server would refuse (DNS-1123 subdomain, as for most kinds).
      const name = obj.metadata?.name ?? ''
      if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(name) || name.length > 253) {
        errors.push(`${where}: metadata.name ${JSON.stringify(name)} is not a DNS-1123 subdomain`)
      }
      return errors
    }
  }
}

export type AnnotationType = 'bool' | 'int' | 'string'

/**
 * The annotations Dapr's sidecar injector reads (pkg/injector/patcher/sidecar.go, the
 * `annotation:"dapr.io/..."` struct tags) and the Go type each is parsed into.
 */
export function injectorAnnotations (daprDir: string): Map<string, AnnotationType> {
  const source = readFileSync(join(daprDir, 'pkg/injector/patcher/sidecar.go'), 'utf8')
  const known = new Map<string, AnnotationType>()
  for (const m of source.matchAll(/^\s*\w+\s+(\*?\w+)\s+`annotation:"(dapr\.io\/[^"]+)"/gm)) {
    const type = m[1].replace('*', '')
    known.set(m[2], type === 'bool' ? 'bool' : /^u?int\d*$/.test(type) ? 'int' : 'string')
  }
  if (known.size < 20) throw new Error(`only ${known.size} annotations found in ${daprDir}/pkg/injector/patcher/sidecar.go`)
  return known
}

export interface ComponentField { name: string, sensitive: boolean, allowedValues?: string[] }

/**
 * The metadata fields a component type accepts (its metadata.yaml in components-contrib,
 * authentication profiles included), e.g. pubsub.redis → pubsub/redis/metadata.yaml.
 */
export function componentFields (contribDir: string, type: string): Map<string, ComponentField> {
  const [kind, ...name] = type.split('.')
  const file = join(contribDir, kind, ...name, 'metadata.yaml')
  if (!existsSync(file)) throw new Error(`no metadata.yaml for component type ${type} (${file})`)
  const doc = parse(readFileSync(file, 'utf8'))
  const fields = new Map<string, ComponentField>()
  const add = (list: any[] | undefined): void => {
    for (const f of list ?? []) {
      const prev = fields.get(f.name)
      const allowed = f.allowedValues?.map(String)
      fields.set(f.name, {
        name: f.name,
        sensitive: Boolean(f.sensitive) || Boolean(prev?.sensitive),
        // authType appears in every profile with its own value: any of them is allowed.
        allowedValues: allowed && prev?.allowedValues ? [...prev.allowedValues, ...allowed] : allowed ?? prev?.allowedValues
      })
    }
  }
  add(doc.metadata)
  for (const profile of doc.authenticationProfiles ?? []) add(profile.metadata)
  return fields
}

/** A Dockerfile's instructions by stage, continuation lines joined, comments dropped. */
export interface Stage { from: string, name?: string, instructions: Array<{ op: string, args: string }> }

export function parseDockerfile (text: string): Stage[] {
  const stages: Stage[] = []
  const logical = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map(l => l.trim()).filter(l => l && !l.startsWith('#'))
  for (const line of logical) {
    const [, op, args] = /^(\w+)\s+(.*)$/.exec(line) ?? []
    if (!op) continue
    if (op.toUpperCase() === 'FROM') {
      const [, from, name] = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(args) ?? []
      stages.push({ from, name, instructions: [] })
    } else if (stages.length > 0) {
      stages.at(-1)!.instructions.push({ op: op.toUpperCase(), args })
    }
  }
  return stages
}
