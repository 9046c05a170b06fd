// Servers shared by runs side by side (lab/run/servers.ts): a Zipkin that one `--tracing`
// run started stays up while another run uses it, and the last run out stops it. It runs
// alone (vitest.config.ts): it must own Zipkin, which the other tracing runs start too.
import { afterAll, describe, expect, it } from 'vitest'
import { isAlive } from '../../lab/processes.ts'
import { Lab, notOnThisMachine, portIsFree, uniqueTopic } from './lab.ts'

const ZIPKIN = 'http://127.0.0.1:9411'
const zipkinAnswers = async (): Promise<boolean> => fetch(`${ZIPKIN}/health`, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false)

describe.skipIf(notOnThisMachine('zipkin') || notOnThisMachine('zipkin-handover'))('a server shared by two runs side by side (npm start -- --tracing, twice)', () => {
  const labs: Lab[] = []

  afterAll(async () => { for (const lab of labs) await lab.dispose() })

  it('the Zipkin the first run started stays up while the second uses it, and the second stops it when it ends', async () => {
    expect(await zipkinAnswers(), 'no Zipkin answers before the runs').toBe(false)
    // Orders for long enough that both runs are still going on when the first one stops.
    const first = new Lab(uniqueTopic(), { PUBLISH_INTERVAL_MS: '20', ORDER_COUNT: '100000' }, ['--tracing'])
    labs.push(first)
    await first.until('orders at the first run\'s order-processor', () => first.received().length > 0)
    expect(first.output).toContain('[lab] starting Zipkin')

    const second = new Lab(uniqueTopic(), { PUBLISH_INTERVAL_MS: '20', ORDER_COUNT: '100000' }, ['--tracing'])
    labs.push(second)
    await second.until('orders at the second run\'s order-processor', () => second.received().length > 0)
    expect(second.output, 'the second run uses the Zipkin that answers').not.toContain('starting Zipkin')

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
