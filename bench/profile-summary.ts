// Summarises a V8 CPU profile (`npm run load -- --profile` writes one per subscriber):
// where the time went, by package or file (self time) and by function (self time), so a
// hot spot is found before anything is changed.
//
// Usage: node --import tsx bench/profile-summary.ts FILE.cpuprofile [top=25]
import { readFileSync } from 'node:fs'

interface Node { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, hitCount?: number, children?: number[] }
interface Profile { nodes: Node[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }

/** A script URL as a short owner: the npm package, node's own code, or the project file. */
export function ownerOf (url: string): string {
  if (url === '') return '(native / GC / idle)'
  if (url.startsWith('node:')) return url
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg) return pkg[1]!
  return url.replace(/^file:\/\/.*?\/(shared|subscriber|bench|publisher|scripts)\//, '$1/')
}

const [file, topArg] = process.argv.slice(2)
if (!file) {
  process.stderr.write('usage: node --import tsx bench/profile-summary.ts FILE.cpuprofile [top]\n')
  process.exit(2)
}
const top = Number(topArg ?? 25)
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
// Self time per node: each sample's delta belongs to the node it hit.
const selfUs = new Map<number, number>()
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
const total = [...selfUs.values()].reduce((a, b) => a + b, 0)
const idle = [...selfUs].filter(([id]) => /^\((idle|program)\)$/.test(byId.get(id)?.callFrame.functionName ?? '')).reduce((a, [, us]) => a + us, 0)

const add = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us)
const byOwner = new Map<string, number>()
const byFunction = new Map<string, number>()
for (const [id, us] of selfUs) {
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame
  if (/^\((idle|program)\)$/.test(functionName)) continue
  add(byOwner, functionName === '(garbage collector)' ? '(garbage collector)' : ownerOf(url), us)
  add(byFunction, `${functionName || '(anonymous)'} ${ownerOf(url)}:${lineNumber + 1}`, us)
}
const busy = total - idle
const show = (title: string, map: Map<string, number>) => {
  process.stdout.write(`\n${title} (self time, % of ${(busy / 1e6).toFixed(2)} s busy)\n`)
  for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`${((us / busy) * 100).toFixed(1).padStart(6)} %  ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}\n`)
  }
}
// Total (inclusive) time per function: self time of its node and of everything below, each
// sample counted once per function even under recursion.
const parent = new Map<number, number>()
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
const inclusive = new Map<string, number>()
const inclusiveOwner = new Map<string, number>()
for (const [id, us] of selfUs) {
  if (/^\((idle|program)\)$/.test(byId.get(id)!.callFrame.functionName)) continue
  const seen = new Set<string>()
  const owners = new Set<string>()
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const { functionName, url, lineNumber } = byId.get(at)!.callFrame
    const key = `${functionName || '(anonymous)'} ${ownerOf(url)}:${lineNumber + 1}`
    if (functionName === '(root)') continue
    if (url !== '') owners.add(ownerOf(url))
    if (seen.has(key)) continue
    seen.add(key)
    add(inclusive, key, us)
  }
  for (const owner of owners) add(inclusiveOwner, owner, us)
}
process.stdout.write(`${file}: ${(total / 1e6).toFixed(2)} s profiled, ${(idle / 1e6).toFixed(2)} s idle\n`)
show('By package or file', byOwner)
show('By function', byFunction)
show('By package or file, total time (with what it calls; async continuations start new stacks)', inclusiveOwner)
const project = new Map([...inclusive].filter(([key]) => /\s(shared|subscriber|bench|publisher)\//.test(key)))
show('The project\'s functions, total time (with what they call)', project)
