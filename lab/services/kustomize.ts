// kustomize v5 for deploy/: $KUSTOMIZE, or a kustomize v5 on the PATH, is used as it is;
// otherwise it is built once from its Go module (sigs.k8s.io/kustomize/kustomize/v5) into
// the cache.
import { mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { execa } from 'execa'
import { isExecutable, onPath } from '../processes.ts'
import { CACHE, KUSTOMIZE_VERSION, LabError, say } from '../settings.ts'

/** `bin version`'s output, with whether it is a kustomize v5. */
async function version (bin: string): Promise<{ v5: boolean, output: string }> {
  const { stdout, stderr, shortMessage, failed } = await execa(bin, ['version'], { reject: false })
  return { v5: !failed && /^v5\./m.test(stdout), output: (stdout || stderr || shortMessage || '').split('\n')[0]! }
}

/** The path of a kustomize v5, built on first use when there is none. */
export async function kustomize (): Promise<string> {
  const given = process.env.KUSTOMIZE
  if (given) {
    const { v5, output } = await version(given)
    if (!v5) throw new LabError(`KUSTOMIZE=${given} is not a kustomize v5 binary (${output}).`)
    return given
  }
  const installed = onPath('kustomize')
  if (installed && (await version(installed)).v5) return installed

  const bin = join(CACHE, `kustomize-${KUSTOMIZE_VERSION}`, 'kustomize')
  if (isExecutable(bin)) return bin
  if (!onPath('go')) {
    throw new LabError('kustomize is not installed, and Go is not installed to build it. Fix: install kustomize v5 (https://kubectl.docs.kubernetes.io/installation/kustomize/) or Go 1.26+, then run this again.')
  }
  const started = Date.now()
  say(`building kustomize ${KUSTOMIZE_VERSION} from its Go module (one time only; about 25 s with empty Go caches)...`)
  mkdirSync(CACHE, { recursive: true })
  // Built in a directory of its own, outside any module, then moved into place: an
  // interrupted build leaves no half-written binary behind.
  const tmp = mkdtempSync(join(CACHE, 'kustomize-build.'))
  try {
    const module = `sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}`
    // Go's output goes to stderr: stdout is the caller's.
    const { failed } = await execa('go', ['install', '-trimpath', module], {
      cwd: tmp, env: { CGO_ENABLED: '0', GOBIN: tmp }, stdin: 'ignore', stdout: 2, stderr: 2, reject: false
    })
    if (failed) throw new LabError(`go install ${module} failed (see above).`)
    mkdirSync(dirname(bin), { recursive: true })
    renameSync(join(tmp, 'kustomize'), bin)
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
  say(`kustomize ${KUSTOMIZE_VERSION} built in ${Math.round((Date.now() - started) / 1000)} s: ${bin}`)
  return bin
}

/** `kustomize build dir`: the rendered YAML. */
export async function renderOverlay (dir: string): Promise<string> {
  const { stdout, stderr, shortMessage, failed } = await execa(await kustomize(), ['build', dir], { reject: false, stripFinalNewline: false })
  if (failed) throw new LabError(`kustomize build ${dir} failed: ${stderr.trim() || shortMessage}`)
  return stdout
}
