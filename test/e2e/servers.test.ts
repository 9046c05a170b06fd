// Servers shared by runs side by side (lab/run/servers.ts): two `--tracing` runs started
// at once start one Zipkin, which stays up while a run uses it; the last run out stops it.
// It runs alone (vitest.config.ts): it must own Zipkin, which other tracing runs start too.
import { afterAll, describe, expect, it } from 'vitest'
import { isAlive } from '../../lab/processes.ts'
import { Lab, notOnThisMachine, portIsFree, uniqueTopic } from './lab.ts'

const ZIPKIN = 'http://127.0.0.1:9411'
const zipkinAnswers = async (): Promise<boolean> => fetch(`${ZIPKIN}/health`, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false)

describe.skipIf(notOnThisMachine('zipkin') || notOnThisMachine('zipkin-handover'))('a server shared by two runs side by side (npm start -- --tracing, twice)', () => {
  const labs: Lab[] = []

  afterAll(async () => { for (const lab of labs) await lab.dispose() })

  it('two runs started at once start one Zipkin; the one that started it hands it to the other as it ends, and the last one out stops it', async () => {
    expect(await zipkinAnswers(), 'no Zipkin answers before the runs').toBe(false)
    // Both at once (their starts take turns); orders for long enough that both are still
    // going on when the first one stops.
    const runs = [0, 1].map(() => new Lab(uniqueTopic(), { PUBLISH_INTERVAL_MS: '20', ORDER_COUNT: '100000' }, ['--tracing']))
    labs.push(...runs)
    for (const run of runs) await run.until(`orders at ${run.run}'s order-processor`, () => run.received().length > 0)
    const starters = runs.filter((run) => run.output.includes('[lab] starting Zipkin'))
    expect(starters, 'runs that started a Zipkin').toHaveLength(1)
    const [first, second] = [starters[0]!, runs.find((run) => run !== starters[0])!]

    const zipkin = await first.find('zipkin-server')
    // Lab.stop spares the server a run hands over (and kills anything else left).
    await first.stop()
    expect(first.output).toMatch(new RegExp(`Zipkin stays up: run ${second.run} \\(pid \\d+\\) uses it too`))
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
