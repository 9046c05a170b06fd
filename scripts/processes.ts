// Processes as Linux shows them in /proc: enough to find one of the lab's and to start it
// again exactly as it was (same command, environment and folder), as a supervisor would.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

export interface ProcessImage { pid: number, argv: string[], env: NodeJS.ProcessEnv, cwd: string }

export function imageOf (pid: number): ProcessImage {
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '')
  const env = Object.fromEntries(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean)
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]))
  return { pid, argv, env, cwd: readlinkSync(`/proc/${pid}/cwd`) }
}

/** Every process this user can read that `matches`. */
export function findImages (matches: (image: ProcessImage) => boolean): ProcessImage[] {
  const found: ProcessImage[] = []
  for (const entry of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const image = imageOf(Number(entry))
      if (matches(image)) found.push(image)
    } catch { /* gone meanwhile, or not ours to read */ }
  }
  return found
}

/** What a run started: every process carries the run's ORDERS_TOPIC in its environment. */
export function processesOfTopic (topic: string): ProcessImage[] {
  return findImages((p) => p.env.ORDERS_TOPIC === topic)
}
