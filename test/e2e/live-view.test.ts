// The live view in a real browser: headless Chromium (Debian's package, driven by
// playwright-core) opens the order-processor's page during a run and sees all 19 orders
// arrive. The screenshot it takes is the one the README shows.
import { execFileSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, describe, expect, it } from 'vitest'
import { Lab, REPO, notOnThisMachine, uniqueTopic } from './lab.ts'
import { allAcceptedLine } from '../../shared/log-lines.ts'

function findChromium (): string | undefined {
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    try { return execFileSync('which', [name], { encoding: 'utf8' }).trim() } catch { /* next */ }
  }
  return undefined
}
const executablePath = findChromium()

// `npm test` installs Chromium where it can, and lists it as unavailable where it
// cannot (skipped on a laptop, a failure on CI), like a broker.
describe.skipIf(notOnThisMachine('chromium'))('the live view (GET /) in headless Chromium', () => {
  const topic = uniqueTopic()
  let lab: Lab | undefined
  let browser: Browser | undefined

  afterAll(async () => {
    await browser?.close()
    await lab?.dispose()
  })

  it('shows all 19 orders as they arrive, with the counts and the broker, behind the app token', async () => {
    expect(executablePath, 'Chromium is not installed (`npm test` installs it on Debian)').toBeDefined()
    const token = 'live-view-token'
    // Slow enough to watch them arrive, and a poison order to show a dead letter.
    lab = new Lab(topic, { PUBLISH_INTERVAL_MS: '150', POISON_EVERY: '10', APP_API_TOKEN: token })
    const url = await lab.url()
    await lab.until('the order-processor to listen', () => lab!.output.includes(`Server listening at ${url}`))

    browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] })
    const page = await browser.newPage({ viewport: { width: 1000, height: 900 } })
    expect((await page.goto(`${url}/`))!.status(), 'without the token').toBe(401)
    await page.goto(`${url}/?token=${token}`)

    const processed = page.locator('li[data-kind=processed]')
    await processed.nth(18).waitFor({ timeout: 60_000 })
    const ids = await processed.evaluateAll((items) => items.map((i) => Number((i as HTMLElement).dataset.orderId)))
    expect(ids.sort((a, b) => a - b)).toEqual(Array.from({ length: 19 }, (_, i) => i + 1))
    await page.locator('li[data-kind=deadLettered]').first().waitFor({ timeout: 30_000 })
    expect(await page.locator('#count-processed b').textContent()).toBe('19')
    expect(await page.locator('#count-deadLettered b').textContent()).toBe('1')
    expect(await page.locator('#where').textContent()).toBe(`topic ${topic} · broker pubsub.redis`)

    const dir = join(REPO, '.dapr', 'screenshots')
    mkdirSync(dir, { recursive: true })
    await page.screenshot({ path: join(dir, 'live-view.png') })
    await lab.until('the checkout to finish', () => lab!.output.includes(allAcceptedLine(19)), 30_000)
  })
})
