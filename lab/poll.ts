// Waiting for something to hold: the one poll loop of the project (the tools, the runner,
// the bench and the tests), always with a deadline.
import { setTimeout as sleep } from 'node:timers/promises'

export interface PollOptions {
  /** How often to look, in ms (100 by default). */
  every?: number
  /** Told every 10 s that it is still waiting (a long start should not look hung). */
  progress?: (message: string) => void
}

/** Polls `check` until it holds, for at most `ms`; false if it never did. */
export async function poll (what: string, check: () => boolean | Promise<boolean>, ms: number, { every = 100, progress }: PollOptions = {}): Promise<boolean> {
  const start = Date.now()
  let nextSay = start + 10_000
  for (;;) {
    if (await check()) return true
    const now = Date.now()
    if (now - start >= ms) return false
    if (progress && now >= nextSay) {
      progress(`still waiting for ${what} (${Math.round((now - start) / 1000)} s)...`)
      nextSay += 10_000
    }
    await sleep(every)
  }
}

/** Polls `check` until it holds; throws "timed out after `ms` ms waiting for `what`" if it never did. */
export async function until (what: string, check: () => boolean | Promise<boolean>, ms: number, options?: PollOptions): Promise<void> {
  if (!await poll(what, check, ms, options)) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
}
