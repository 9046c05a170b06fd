// The npm scripts' entry (plain JavaScript, as it runs before the npm dependencies, and
// so the TypeScript loader, are there): installs the dependencies from the lock file when
// they are missing or older than it, then runs the lab tool (lab/main.ts) in this process,
// so that Ctrl+C reaches it directly.
import { execFileSync } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'

const repo = join(import.meta.dirname, '..')
const marker = join(repo, 'node_modules', '.package-lock.json')
if (!existsSync(marker) || statSync(join(repo, 'package-lock.json')).mtimeMs > statSync(marker).mtimeMs) {
  process.stderr.write('[lab] installing npm dependencies (npm ci)...\n')
  const npm = process.env.npm_execpath
  // npm_execpath is npm's own script when npm runs this (the usual case): run it with this node.
  const [command, args] = npm?.endsWith('.js') ? [process.execPath, [npm]] : ['npm', []]
  execFileSync(command, [...args, 'ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: repo, stdio: ['ignore', 2, 2], shell: process.platform === 'win32' && command === 'npm' })
}
const { register } = await import('tsx/esm/api')
register()
await import('./main.ts')
