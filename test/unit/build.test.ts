// lab/build.ts keeps a build made from the same sources (npm start -- --prod, the bench and
// the image test would otherwise compile on every start) and makes a new one when they change.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { buildApps } from '../../lab/build.ts'

const root = mkdtempSync(join(tmpdir(), 'lab-build-'))
const build = join(root, 'build')
const stamp = join(build, '.sources-sha256')
afterAll(() => rmSync(root, { recursive: true, force: true }))

describe('buildApps', () => {
  it('compiles once, keeps a build of the same sources, and builds again when the sources differ from its stamp', async () => {
    await buildApps(build)
    const first = statSync(build).ino
    expect(statSync(join(build, 'subscriber/src/server.js')).isFile()).toBe(true)
    const digest = readFileSync(stamp, 'utf8')
    expect(digest).toMatch(/^[0-9a-f]{64}$/)

    await buildApps(build)
    expect(statSync(build).ino, 'the same build is kept').toBe(first)

    writeFileSync(stamp, 'a build of other sources')
    await buildApps(build)
    expect(statSync(build).ino, 'a new build took its place').not.toBe(first)
    expect(readFileSync(stamp, 'utf8')).toBe(digest)
    expect(statSync(join(build, 'publisher/src/main.js')).isFile()).toBe(true)
  }, 180_000)
})
