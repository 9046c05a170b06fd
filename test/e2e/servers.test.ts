// Servers shared by runs side by side (lab/run/servers.ts): a `--tracing` run that starts
// while another starts Zipkin uses that one, which stays up while a run uses it; the last
// run out stops it.
// A named run (as the tests' are) hands it to an unnamed one (as LAB.md's).
// It runs alone (vitest.config.ts): it must own Zipkin, which other tracing runs start too,
// and an unnamed run, which has the usual ports.
import { afterAll, describe, expect, it } from 'vitest'
import { isAlive } from '../../lab/processes.ts'
import { handedOverLine } from '../../shared/log-lines.ts'
import { Lab, notOnThisMachine, portIsFree, uniqueTopic } from './lab.ts'

const ZIPKIN = 'http://127.0.0.1:9411'
const zipkinAnswers = async (): Promise<boolean> => fetch(`${ZIPKIN}/health`, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false)

describe.skipIf(notOnThisMachine('zipkin') || notOnThisMachine('zipkin-handover'))('a server shared by two runs side by side (npm start -- --tracing, twice)', () => {
  const labs: Lab[] = []

  afterAll(async () => { for (const lab of labs) await lab.dispose() })

  it('a run started while another starts Zipkin uses that one; the one that started it hands it to the other as it ends, and the last one out stops it', async () => {
    expect(await zipkinAnswers(), 'no Zipkin answers before the runs').toBe(false)
    // A named run first (as the tests' are), and while it starts Zipkin an unnamed one (as
    // LAB.md's `npm start -- --tracing`): that one waits for the start and uses it. Orders
    // for long enough that both are still going on when the first one stops.
    const pace = { PUBLISH_INTERVAL_MS: '20', ORDER_COUNT: '100000' }
    const first = new Lab(uniqueTopic(), pace, ['--tracing'])
    labs.push(first)
    await first.until('the named run to start Zipkin', () => first.output.includes('[lab] starting Zipkin'))
    const second = new Lab(uniqueTopic(), { ...pace, LAB_RUN: '' }, ['--tracing'])
    labs.push(second)
    for (const run of [first, second]) await run.until(`orders at the order-processor of ${run.run || 'the unnamed run'}`, () => run.received().length > 0)
    expect(second.output, 'the unnamed run').not.toContain('[lab] starting Zipkin')

    const zipkin = await first.find('zipkin-server')
    // The unnamed run's npm start (its servers are written down under its pid).
    const heir = await second.find('lab/bootstrap.mjs start')
    // Lab.stop spares the server a run hands over (and kills anything else left).
    await first.stop()
    expect(first.output).toContain(handedOverLine('Zipkin', 'the run of npm start', heir.pid))
    expect((await first.processes()).map((p) => p.pid), 'what is left of the first run: the Zipkin it handed over').toEqual([zipkin.pid])
    expect(await zipkinAnswers(), 'Zipkin after the first run ended').toBe(true)

    // The second run, still going on, ends last: it stops the Zipkin it was handed.
    const before = second.received().length
    await second.until('more orders at the second run after the first ended', () => second.received().length > before)
    await second.stop()
    expect(await second.processes()).toEqual([])
    expect(await zipkinAnswers(), 'Zipkin after the last run ended').toBe(false)
    expect(isAlive(zipkin.pid), 'the Zipkin process the first run started').toBe(false)
    expect(await portIsFree(9411)).toBe(true)
  })
})
