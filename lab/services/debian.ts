// Installing a server from Debian's packages (as root, with apt-get), and finding a server's
// binary, which Debian may keep off a normal user's PATH.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { execa } from 'execa'
import { onPath } from '../processes.ts'
import { LabError, say } from '../settings.ts'

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
  if (process.platform !== 'linux' || process.getuid?.() !== 0 || !onPath('apt-get')) throw new LabError(fix)
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
