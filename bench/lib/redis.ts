// The bench's own Redis connection: the lab's Redis on 127.0.0.1:6379 (the one the
// components point at), for the raw scenario, Redis's pid and the clean-up after a run.
import type { Redis } from 'ioredis'
import { deadLetterTopic } from '../../shared/pubsub.ts'

export { connectRedis as connect } from '../../lab/redis.ts'

/** redis-server's pid (INFO server), so its CPU and memory can be read from /proc. */
export async function redisPid (redis: Redis): Promise<number | undefined> {
  const info = await redis.info('server')
  const pid = /process_id:(\d+)/.exec(info)?.[1]
  return pid ? Number(pid) : undefined
}

/**
 * Removes what a run left in Redis: the topic's stream, its dead-letter stream and every
 * ledger entry of any app id for the topic ("<app>||processed:<topic>:..." as Dapr's
 * Redis state store names keys). Topics are unique per run (bench-<random>), so the
 * pattern cannot touch anybody else's keys.
 */
export async function cleanupTopic (redis: Redis, topic: string): Promise<number> {
  let deleted = await redis.del(topic, deadLetterTopic(topic))
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `*||*:${topic}:*`, 'COUNT', 1000)
    cursor = next
    if (keys.length > 0) deleted += await redis.unlink(...keys)
  } while (cursor !== '0')
  return deleted
}
