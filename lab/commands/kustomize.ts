// `npm run kustomize -- build deploy/overlays/redis`: the project's kustomize v5 (found,
// or built once from its Go module), with these arguments.
import { execa } from 'execa'
import { kustomize as findKustomize } from '../services/kustomize.ts'
import { REPO } from '../settings.ts'

export async function kustomize (argv: string[]): Promise<number> {
  const result = await execa(await findKustomize(), argv, { cwd: REPO, stdio: 'inherit', reject: false })
  return result.exitCode ?? 1
}
