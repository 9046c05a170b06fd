// kubectl and helm against the lab's cluster, from this machine (through the API forwarder).
import { execa, type Options, type Result } from 'execa'
import { LabError } from '../settings.ts'
import { binary } from './binaries.ts'
import { KUBECONFIG } from './layout.ts'

const env = { KUBECONFIG }

/** kubectl with the lab cluster's kubeconfig; throws a LabError with its output unless `reject: false`. */
export async function kubectl (args: string[], options: Options & { reject?: boolean } = {}): Promise<Result> {
  const result = await execa(binary('kubernetes', 'kubectl'), args, { env, ...options, reject: false }) as Result
  if (result.failed && options.reject !== false) {
    throw new LabError(`kubectl ${args.join(' ')} failed: ${String(result.stderr || result.stdout || result.shortMessage || '').trim()}`)
  }
  return result
}

/** kubectl apply of YAML text. */
export async function apply (yaml: string, ...args: string[]): Promise<void> {
  await kubectl(['apply', '-f', '-', ...args], { input: yaml })
}

/** helm with the lab cluster's kubeconfig. */
export async function helm (args: string[]): Promise<string> {
  const result = await execa(binary('helm'), args, { env, reject: false })
  if (result.failed) throw new LabError(`helm ${args.join(' ')} failed: ${(result.stderr || result.stdout || result.shortMessage || '').trim()}`)
  return result.stdout
}
