// The apps compiled to JavaScript, for `npm start -- --prod` and the benchmark: they then
// run on plain `node`, without the TypeScript loader (tsx: a devDependency, and 36 MB and
// a thread in every process; Node 20 has no type stripping). The same compiler settings
// as the image in deploy/ (deploy/tsconfig.build.json); the output sits in .dapr/build/,
// laid out like the sources, so each app's run-time files and node_modules resolve.
import { cpSync, existsSync, readdirSync, rmSync } from 'node:fs'
import { join, relative } from 'node:path'
import { execa } from 'execa'
import { LAB_STATE, LabError, REPO, say } from './settings.ts'

export const BUILD = join(LAB_STATE, 'build')
const SOURCES = ['shared', 'publisher/src', 'subscriber/src', 'shipping/src', 'shop']

/** Compiles the apps into BUILD (type errors fail it), with the files they read at run time. */
export async function buildApps (): Promise<void> {
  say(`compiling the apps to JavaScript in ${relative(REPO, BUILD)}/ (npm start -- --prod)`)
  rmSync(BUILD, { recursive: true, force: true })
  const { failed, stdout, stderr } = await execa('tsc', ['-p', join(REPO, 'deploy', 'tsconfig.build.json'), '--outDir', BUILD], { cwd: REPO, preferLocal: true, reject: false })
  if (failed) throw new LabError(`The apps do not compile:\n${stdout}${stderr}`)
  for (const dir of SOURCES) {
    for (const file of readdirSync(join(REPO, dir), { recursive: true, withFileTypes: true })) {
      if (!file.isFile() || file.name.endsWith('.ts')) continue
      const from = join(file.parentPath, file.name)
      cpSync(from, join(BUILD, relative(REPO, from)))
    }
  }
  // The apps read the project's .env beside shared/ (shared/config.ts).
  if (existsSync(join(REPO, '.env'))) cpSync(join(REPO, '.env'), join(BUILD, '.env'))
}

/** An app's command on the build: `node --import tsx src/x.ts` becomes `node <build>/<app>/src/x.js`. */
export function compiledCommand (appDir: string, command: string[]): string[] {
  const entry = command.find((part) => part.endsWith('.ts'))
  if (command[0] !== 'node' || entry === undefined) throw new LabError(`--prod runs node on a .ts entry, not "${command.join(' ')}" (dapr.yaml)`)
  return ['node', join(BUILD, relative(REPO, join(appDir, entry))).replace(/\.ts$/, '.js')]
}
