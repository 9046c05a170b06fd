// `npm run stop` as a student runs it, with no run named: it stops every lab process it
// finds (the runner, sidecars started with this project's files), so this file runs alone
// (vitest.config.ts), after the runs that go on side by side.
import { expect, it } from 'vitest'
import { Lab, eachRunner, killHard, portIsFree, runTracked, uniqueTopic, until } from './lab.ts'
import { ORDER_PROCESSOR_PORT } from '../../lab/roster.ts'

eachRunner('npm run stop, no run named (runner: %s)', (runner) => {
  it('npm start killed outright (SIGKILL, no clean-up of its own): npm run stop finds what the run left and stops all of it', async () => {
    // Unnamed, as a student's run: on dapr.yaml's ports.
    const killed = new Lab(uniqueTopic(), { PUBLISH_INTERVAL_MS: '200', LAB_RUNNER: runner, LAB_RUN: '' })
    try {
      await killed.until('the first orders', () => killed.received().length >= 2)
      await killHard((await killed.find('node lab/bootstrap.mjs start')).pid)
      expect((await killed.processes()).some((p) => p.cmd.includes('daprd')), 'the sidecars outlive a killed npm start').toBe(true)
      const env: NodeJS.ProcessEnv = { ...process.env, LAB_RUNNER: runner }
      delete env.LAB_RUN
      const stop = await runTracked('npm', ['run', 'stop'], { env })
      expect(stop.status, stop.stdout + stop.stderr).toBe(0)
      await until('every process of the killed run to be gone', async () => (await killed.processes()).filter((p) => p.pid !== killed.child.pid).length === 0, 30_000)
      expect(await portIsFree(ORDER_PROCESSOR_PORT)).toBe(true)
    } finally {
      await killed.dispose()
    }
  })
})
