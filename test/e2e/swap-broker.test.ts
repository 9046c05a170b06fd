// The lab's user story, literally: take redis.yaml out of components/, put kafka.yaml in,
// run `npm start` again; no code is edited. Done in a copy of the project, so the
// repository's own files are never touched.
import { cpSync, existsSync, mkdtempSync, renameSync, rmSync, symlinkSync, utimesSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { Lab, REPO, expectEachOnce, notOnThisMachine, uniqueTopic } from './lab.ts'
import { allAcceptedLine } from '../../shared/log-lines.ts'

describe.skipIf(notOnThisMachine('kafka'))('swapping components/redis.yaml for kafka.yaml', () => {
  const copy = mkdtempSync(join(tmpdir(), 'dapr-lab-swap-'))
  const topic = uniqueTopic()
  let lab: Lab | undefined

  afterAll(async () => {
    await lab?.dispose()
    rmSync(copy, { recursive: true, force: true })
  })

  it('runs the same code on Kafka and delivers orderId 1..19 exactly once', async () => {
    cpSync(REPO, copy, { recursive: true, filter: (src) => !/\/(node_modules|\.git|\.dapr)$/.test(src) })
    symlinkSync(join(REPO, 'node_modules'), join(copy, 'node_modules'))
    // The copy shares node_modules with the repository: its lock file must not look newer
    // than the installed tree, or `npm start` would reinstall (npm ci) into the shared folder.
    utimesSync(join(copy, 'package-lock.json'), 0, 0)
    renameSync(join(copy, 'components', 'redis.yaml'), join(copy, 'brokers', 'redis.yaml'))
    renameSync(join(copy, 'brokers', 'kafka.yaml'), join(copy, 'components', 'kafka.yaml'))

    lab = new Lab(topic, { PUBLISH_INTERVAL_MS: '20' }, [], copy)
    await lab.until('19 distinct orders at the order-processor', () => new Set(lab!.received()).size === 19)
    await lab.until('the checkout to report all orders accepted', () => lab!.output.includes(allAcceptedLine(19)), 30_000)
    await lab.stop()

    expect(lab.output).not.toContain('installing npm dependencies')
    expect(existsSync(join(REPO, 'node_modules', '.package-lock.json'))).toBe(true)
    expect(lab.output).toContain(`broker: kafka (${join(copy, 'components', 'kafka.yaml')})`)
    expectEachOnce(lab.received(), lab.output)
  })
})
