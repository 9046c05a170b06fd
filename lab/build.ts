// The apps compiled to JavaScript, for `npm start -- --prod`, the benchmark and the image
// in deploy/: they then run on plain `node`, without the TypeScript loader (tsx: a
// devDependency, and 36 MB and a thread in every process; Node 20 has no type stripping).
// Compiler settings in deploy/tsconfig.build.json; the output sits in .dapr/build/, laid
// out like the sources, so each app's run-time files and node_modules resolve.
//
//   node --import tsx lab/build.ts order-processor|checkout OUT
//
// assembles one app as its image runs it (deploy/Dockerfile's build stage; test/deploy
// replays it).
import { createHash } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { readRunFile } from './run-file.ts'
import { LAB_STATE, LabError, REPO, say } from './settings.ts'

export const BUILD = join(LAB_STATE, 'build')
/** The digest of the sources a build was made from, in the build. */
const STAMP = '.sources-sha256'
const SOURCES = ['shared', 'publisher/src', 'subscriber/src', 'shipping/src', 'shop']

/** The files of the sources, not what a run leaves there (an app's .dapr/logs, under shop/). */
function sourceFiles (): string[] {
  // The image's build stage copies only the sources of the apps it builds.
  return SOURCES.filter((dir) => existsSync(join(REPO, dir))).flatMap((dir) => readdirSync(join(REPO, dir), { recursive: true, withFileTypes: true })
    .filter((f) => f.isFile() && !relative(REPO, f.parentPath).split(/[\\/]/).includes('.dapr'))
    .map((f) => join(f.parentPath, f.name))).sort()
}

/** What the build is made from: the sources, the compiler settings and .env. */
function sourcesDigest (): string {
  const hash = createHash('sha256')
  for (const file of [...sourceFiles(), join(REPO, 'deploy', 'tsconfig.build.json'), join(REPO, '.env')]) {
    hash.update(relative(REPO, file)).update('\0').update(existsSync(file) ? readFileSync(file) : '').update('\0')
  }
  return hash.digest('hex')
}

/**
 * Compiles the apps into `build` (type errors fail it), with the files they read at run time.
 * A build made from the same files is kept: compiling takes seconds, reading them does not.
 * Built beside it and renamed into place, so a run, the image test and the benchmark
 * starting at once never see half a build, nor remove one another is running from.
 */
export async function buildApps (build = BUILD): Promise<void> {
  const digest = sourcesDigest()
  const current = (dir: string) => existsSync(join(dir, STAMP)) && readFileSync(join(dir, STAMP), 'utf8') === digest
  if (current(build)) return
  say(`compiling the apps to JavaScript in ${relative(REPO, build)}/`)
  mkdirSync(dirname(build), { recursive: true })
  const next = mkdtempSync(`${build}-`)
  try {
    const { failed, stdout, stderr } = await execa('tsc', ['-p', join(REPO, 'deploy', 'tsconfig.build.json'), '--outDir', next], { cwd: REPO, preferLocal: true, reject: false })
    if (failed) throw new LabError(`The apps do not compile:\n${stdout}${stderr}`)
    for (const file of sourceFiles()) if (!file.endsWith('.ts')) cpSync(file, join(next, relative(REPO, file)))
    // The apps read the project's .env beside shared/ (shared/config.ts).
    if (existsSync(join(REPO, '.env'))) cpSync(join(REPO, '.env'), join(next, '.env'))
    writeFileSync(join(next, STAMP), digest)
    if (current(build)) return // another process built the same meanwhile
    rmSync(build, { recursive: true, force: true }) // a build of older sources
    try {
      renameSync(next, build)
    } catch (err) {
      if (!current(build)) throw err // else another process put the same build there first
    }
  } finally {
    rmSync(next, { recursive: true, force: true })
  }
}

/** An app's command on the build: `node --import tsx src/x.ts` becomes `node <build>/<app>/src/x.js`. */
export function compiledCommand (appDir: string, command: string[]): string[] {
  return ['node', join(BUILD, compiledEntry(appDir, command))]
}

/** Where an app's compiled entry sits in a build, from its dapr.yaml command. */
function compiledEntry (appDir: string, command: string[]): string {
  const entry = command.find((part) => part.endsWith('.ts'))
  if (command[0] !== 'node' || entry === undefined) throw new LabError(`--prod runs node on a .ts entry, not "${command.join(' ')}" (dapr.yaml)`)
  return relative(REPO, join(appDir, entry)).replace(/\.ts$/, '.js')
}

/** One app of dapr.yaml as its image runs it: in `out`, its build and shared/'s, and main.js, which starts it. */
export async function assembleApp (app: string, out: string): Promise<void> {
  const apps = readRunFile().apps
  const spec = apps.find((a) => a.appID === app && a.command !== undefined)
  if (spec === undefined) throw new LabError(`APP must be an app of dapr.yaml (${apps.map((a) => a.appID).join(' or ')}), not "${app}"`)
  const entry = compiledEntry(join(REPO, spec.appDirPath ?? '.'), spec.command!)
  await buildApps()
  for (const dir of ['shared', dirname(entry)]) cpSync(join(BUILD, dir), join(out, dir), { recursive: true })
  writeFileSync(join(out, 'main.js'), `import './${entry.split(sep).join('/')}'\n`)
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [app = '', out] = process.argv.slice(2)
  if (out === undefined) {
    process.stderr.write('usage: node --import tsx lab/build.ts order-processor|checkout OUT\n')
    process.exit(2)
  }
  await assembleApp(app, resolve(out)).catch((err: Error) => {
    process.stderr.write(`${err.message}\n`)
    process.exit(1)
  })
}
