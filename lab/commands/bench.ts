// `npm run load` / `npm run bench`: the same set-up as `npm start` (the Dapr runtime, Redis
// used or started, and stopped again afterwards), then the tool (bench/load.ts or
// bench/bench.ts) with these arguments.
import { execa } from 'execa'
import { join } from 'node:path'
import { redis } from '../services/redis.ts'
import { ensureDaprRuntime } from '../services/dapr-runtime.ts'
import { REPO } from '../settings.ts'

async function runTool (tool: 'load' | 'bench', argv: string[]): Promise<number> {
  const runtime = await ensureDaprRuntime()
  const { started } = await redis.up()
  // Ctrl+C reaches the tool too, which stops its runs; this process cleans up after it.
  const ignore = () => {}
  process.on('SIGINT', ignore)
  try {
    const result = await execa(process.execPath, ['--import', 'tsx', join(REPO, 'bench', `${tool}.ts`), ...argv], {
      cwd: REPO, stdio: 'inherit', reject: false, env: { DAPR_RUNTIME_PATH: runtime.root }
    })
    return result.exitCode ?? 1
  } finally {
    process.off('SIGINT', ignore)
    if (started) await redis.down()
  }
}

export const load = (argv: string[]) => runTool('load', argv)
export const bench = (argv: string[]) => runTool('bench', argv)
