// CPU time and memory of the processes of a run, read from /proc: the benchmark measures on
// Linux, where its figures are taken, with no agent and nothing that adds load of its own.
// The processes of a run are found as the process tree under its runner (ps-list).
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { pidToPorts } from 'pid-port'
import { descendantsOf, listProcesses } from '../../lab/processes.ts'

/** Clock ticks per second of utime/stime in /proc/<pid>/stat (USER_HZ, nearly always 100). */
export const CLK_TCK = (() => {
  try { return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100 } catch { return 100 }
})()

export interface ProcSample {
  /** User + system CPU seconds since the process started. */
  cpuS: number
  /** Resident set now, MB. */
  rssMb: number
  /** Peak resident set since the process started (VmHWM), MB. */
  peakRssMb: number
}

/** One reading of a process; undefined when it is gone (or not ours to read). */
export function sample (pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // utime and stime are fields 14 and 15 of stat(5); fields[0] is field 3 (state).
    const ticks = Number(fields[11]) + Number(fields[12])
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0)
    return { cpuS: ticks / CLK_TCK, rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 }
  } catch {
    return undefined
  }
}

export interface NamedProcess { pid: number, name: string }

/**
 * What a process of a run is, for the report: the runner, a sidecar (by app id and app
 * port, so several instances stay apart), or an app (by its script). undefined for the
 * rest (shells, npm).
 */
export function roleOf (argv: string[], port?: number): string | undefined {
  const joined = argv.join(' ')
  const exe = argv[0] ?? ''
  if (joined.includes('multi-app-run.ts')) return 'runner'
  if (exe.endsWith('daprd')) {
    const arg = (flag: string) => argv[argv.indexOf(flag) + 1]
    const appId = arg('--app-id') ?? '?'
    return argv.includes('--app-port') ? `daprd ${appId}:${arg('--app-port')}` : `daprd ${appId}`
  }
  if (!/(^|\/)node$/.test(exe)) return undefined
  // JavaScript too: the floor subscriber is, and the bench runs the order-processor compiled.
  const script = argv.find((a) => /\.(ts|mjs|js)$/.test(a))
  if (script === undefined) return undefined
  const name = /subscriber\/src\/server\.[tj]s$/.test(script) ? 'order-processor' : script.split('/').pop()!.replace(/\.(ts|mjs|js)$/, '')
  return port ? `${name}:${port}` : name
}

/** `root` and the processes under it, named by roleOf (an app by the port it listens on). */
export async function processesUnder (root: number): Promise<NamedProcess[]> {
  const procs = await listProcesses()
  const tree = [...procs.filter((p) => p.pid === root), ...descendantsOf(root, procs)]
  const ports = await pidToPorts(tree.map((p) => p.pid)).catch(() => new Map<number, Set<number>>())
  return tree.flatMap(({ pid, cmd }) => {
    const name = roleOf(cmd.split(/\s+/), [...ports.get(pid) ?? []].sort((a, b) => a - b)[0])
    return name === undefined ? [] : [{ pid, name }]
  }).sort((a, b) => a.name.localeCompare(b.name))
}

export interface ProcUsage {
  name: string
  pid: number
  /** CPU seconds used between the two readings. */
  cpuS: number
  /** CPU seconds per 1,000 delivered orders. */
  cpuSPer1k: number | null
  rssStartMb: number
  rssEndMb: number
  /** Peak RSS since the process started (VmHWM), MB. */
  peakRssMb: number
}

/** Readings of a set of processes at the start of a measurement, to diff at its end. */
export class Meter {
  private readonly start = new Map<number, ProcSample>()
  constructor (private readonly processes: NamedProcess[]) {
    for (const p of processes) {
      const s = sample(p.pid)
      if (s) this.start.set(p.pid, s)
    }
  }

  /** Usage since the start, per process, with CPU per 1,000 of `orders`. */
  stop (orders: number): ProcUsage[] {
    const usage: ProcUsage[] = []
    for (const p of this.processes) {
      const a = this.start.get(p.pid)
      const b = sample(p.pid)
      if (!a || !b) continue
      const cpuS = b.cpuS - a.cpuS
      usage.push({
        name: p.name,
        pid: p.pid,
        cpuS,
        cpuSPer1k: orders > 0 ? (cpuS * 1000) / orders : null,
        rssStartMb: a.rssMb,
        rssEndMb: b.rssMb,
        peakRssMb: b.peakRssMb
      })
    }
    return usage
  }
}
