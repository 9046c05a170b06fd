// Building programs from Go modules (the Go module proxy is the only source): daprd, Dapr's
// control plane, Kubernetes, etcd, CoreDNS, Helm. Each is built in a wrapper module of its
// own under the cache and moved into place only when complete.
import { chmodSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { LabError, say } from '../settings.ts'

/** Go's module cache; also the check that Go is installed at all (if not: a LabError saying `missing`). */
export async function goModCache (missing: string): Promise<string> {
  const env = await execa('go', ['env', 'GOMODCACHE'], { reject: false })
  if (env.code === 'ENOENT') throw new LabError(missing)
  if (env.failed) throw new LabError(`go env GOMODCACHE failed: ${env.stderr || env.shortMessage}`)
  return env.stdout.trim()
}

/** Where `module@version` is unpacked in the module cache (downloaded first if need be). */
export async function moduleDir (module: string, version: string): Promise<string> {
  const { stdout, failed, stderr } = await execa('go', ['mod', 'download', '-json', `${module}@${version}`], { reject: false })
  if (failed) throw new LabError(`go mod download ${module}@${version} failed: ${stderr.trim()}`)
  return (JSON.parse(stdout) as { Dir: string }).Dir
}

/** chmod -R u+w (the module cache is read-only, and so are copies of it). */
export function writable (path: string): void {
  const stat = statSync(path)
  chmodSync(path, stat.mode | 0o200)
  if (stat.isDirectory()) for (const entry of readdirSync(path)) writable(join(path, entry))
}

export interface Progress { pattern: RegExp, every: number, unit: string }

/** `go build -v` prints one package path a line. */
export const COMPILED: Progress = { pattern: /^[a-z0-9.-]+(\/[^ ]+)*$/, every: 100, unit: 'packages compiled' }
/** `go get` and `go mod tidy` print one `go: downloading` line a module. */
export const DOWNLOADED: Progress = { pattern: /^go: downloading/, every: 25, unit: 'modules downloaded' }

/**
 * Runs go in dir, its output (stdout and stderr) on stderr line by line, except the lines
 * `progress` matches: those are counted, one line said every `every` of them. On failure,
 * a LabError with the last lines of output.
 */
export async function go (dir: string, args: string[], env: Record<string, string>, progress?: Progress): Promise<void> {
  const sub = execa('go', args, { cwd: dir, env, all: true, buffer: false, reject: false })
  const tail: string[] = []
  let n = 0
  for await (const line of sub.iterable({ from: 'all' })) {
    tail.push(line)
    if (tail.length > 30) tail.shift()
    if (progress?.pattern.test(line)) {
      if (++n % progress.every === 0) say(`  ${n} ${progress.unit}`)
    } else {
      process.stderr.write(`${line}\n`)
    }
  }
  const result = await sub
  if (result.failed) {
    throw new LabError(`go ${args.join(' ')} failed (${result.exitCode === undefined ? result.shortMessage : `exit code ${result.exitCode}`}) in ${dir}. Its last lines:\n` +
      tail.map(l => `  ${l}`).join('\n') +
      '\nFix: a network error goes away when this runs again (what was downloaded stays in Go\'s module cache); otherwise the lines above say what is wrong.')
  }
}

/**
 * `go build` of `packages` (main packages of the module in `dir` or of its requirements)
 * into the folder `out`, static (CGO off) and stripped. Built beside it and renamed into
 * place: an interrupted build leaves no half-filled `out` behind.
 */
export async function buildInto (dir: string, packages: string[], out: string, ldflags = ''): Promise<void> {
  const tmp = `${out}.tmp`
  rmSync(tmp, { recursive: true, force: true })
  mkdirSync(tmp, { recursive: true })
  await go(dir, ['build', '-trimpath', '-v', '-ldflags', `-s -w ${ldflags}`.trim(), '-o', `${tmp}/`, ...packages], { CGO_ENABLED: '0' }, COMPILED)
  rmSync(out, { recursive: true, force: true })
  renameSync(tmp, out)
}

/** Seconds since `started`, as "3m12s". */
export function elapsed (started: number): string {
  const s = Math.round((Date.now() - started) / 1000)
  return `${Math.floor(s / 60)}m${s % 60}s`
}
