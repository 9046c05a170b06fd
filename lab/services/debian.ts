// Installing a server from Debian's packages (as root, with apt-get), and finding a server's
// binary, which Debian may keep off a normal user's PATH.
import { accessSync, constants, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { execa } from 'execa'
import { LabError, say } from '../settings.ts'

/** Whether `file` is a file this process may execute. */
export function isExecutable (file: string): boolean {
  try {
    accessSync(file, constants.X_OK)
    return statSync(file).isFile()
  } catch {
    return false
  }
}

/** Where `name` is on PATH, else in one of `extraDirs` (like `command -v`, without a shell); undefined when nowhere. */
export function findBinary (name: string, extraDirs: string[] = []): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...extraDirs]
  const suffixes = process.platform === 'win32' ? ['', ...(process.env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';')] : ['']
  for (const dir of dirs) {
    for (const suffix of suffixes) {
      const file = join(dir, name + suffix)
      if (isExecutable(file)) return file
    }
  }
  return undefined
}

const POLICY = '/usr/sbin/policy-rc.d'
const POLICY_MARK = 'dapr-pubsub-lab'

/**
 * Postinst scripts start the package's own service (invoke-rc.d), which would leave a daemon
 * on our port that we don't own; a policy-rc.d answering 101 ("action forbidden") for the
 * length of the install stops that, as Debian documents. Created only if there is none;
 * true when it is ours (to remove again).
 */
function forbidServiceStarts (): boolean {
  if (existsSync(POLICY)) return false
  writeFileSync(POLICY, `#!/bin/sh\n# ${POLICY_MARK}: no service starts during its apt-get install; removed afterwards.\nexit 101\n`, { mode: 0o755 })
  return true
}

function allowServiceStarts (): void {
  try {
    if (readFileSync(POLICY, 'utf8').includes(POLICY_MARK)) rmSync(POLICY, { force: true })
  } catch { /* gone already */ }
}

/**
 * Installs Debian package `pkg` (`what`, for the message) quietly when running as root with
 * apt-get, else throws a LabError saying `fix` (the exact command for the user's system).
 */
export async function installPackage (pkg: string, what: string, fix: string): Promise<void> {
  if (process.platform !== 'linux' || process.getuid?.() !== 0 || !findBinary('apt-get')) throw new LabError(fix)
  say(`installing ${what} from Debian's packages (apt-get install ${pkg})...`)
  const ours = forbidServiceStarts()
  const apt = (...args: string[]) => execa('apt-get', args, { stdio: 'ignore', env: { DEBIAN_FRONTEND: 'noninteractive' } })
  try {
    // A stale package index fails the install: then update it, once, and try again.
    await apt('install', '-y', '-qq', pkg).catch(async () => {
      await apt('update', '-qq')
      await apt('install', '-y', '-qq', pkg)
    })
  } catch {
    throw new LabError(`apt-get install ${pkg} failed. Run it by hand to see why, then run this again.`)
  } finally {
    if (ours) allowServiceStarts()
  }
}
