import { describe, expect, it } from 'vitest'
import { LOAD_USAGE, parseBenchArgs, parseLoadArgs, UsageError } from '../../bench/lib/args.ts'

function usageError (run: () => unknown): UsageError {
  try {
    run()
  } catch (err) {
    if (err instanceof UsageError) return err
    throw err
  }
  throw new Error('expected a UsageError')
}

describe('npm run load arguments', () => {
  it('has defaults for everything', () => {
    expect(parseLoadArgs([])).toMatchObject({
      count: 2000, rate: 0, concurrency: 32, payload: 1024, bulk: 1, protocol: 'http', instances: 1,
      bulkSubscribe: false, bulkMax: 500, redisConcurrency: 100, redisQueueDepth: 100, tracing: false, keep: false, help: false
    })
  })

  it('reads every option', () => {
    expect(parseLoadArgs(['--count', '500', '--rate', '250.5', '--concurrency', '8', '--payload', '2048', '--bulk', '100',
      '--protocol', 'grpc', '--instances', '3', '--redis-concurrency', '10', '--tracing', '--keep'])).toMatchObject({
      count: 500, rate: 250.5, concurrency: 8, payload: 2048, bulk: 100, protocol: 'grpc', instances: 3, redisConcurrency: 10, tracing: true, keep: true
    })
    expect(parseLoadArgs(['--bulk-subscribe', '--bulk-max', '200', '--bulk-await-ms', '5'])).toMatchObject({ bulkSubscribe: true, bulkMax: 200, bulkAwaitMs: 5 })
  })

  it.each([
    [['--count', '0'], '--count takes a whole number from 1 to 10000000, not "0".'],
    [['--count', '1.5'], '--count takes a whole number'],
    [['--count', 'many'], '--count takes a whole number'],
    [['--count', ''], '--count takes a whole number'],
    [['--rate=-1'], '--rate takes orders per second from 0'],
    [['--rate', '-1'], "Option '--rate' argument is ambiguous"],
    [['--rate', 'fast'], '--rate takes orders per second'],
    [['--payload', '10'], '--payload takes a whole number from 128 to 1000000'],
    [['--protocol', 'tcp'], '--protocol is http or grpc, not "tcp".'],
    [['--instances', '10'], '--instances takes a whole number from 1 to 9'],
    [['--bulk', '0'], '--bulk takes a whole number from 1 to 1000'],
    [['--bulk-subscribe', '--instances', '2'], '--bulk-subscribe runs one subscriber'],
    [['--cout', '5'], "Unknown option '--cout'"],
    [['extra'], 'Unexpected argument']
  ])('refuses %j with a clear message and the usage', (argv, message) => {
    const err = usageError(() => parseLoadArgs(argv))
    expect(err.message).toContain(message)
    expect(err.usage).toBe(LOAD_USAGE)
  })

  it('refuses an option without its value', () => {
    expect(usageError(() => parseLoadArgs(['--count'])).message).toMatch(/--count/)
  })

  it('takes --help and -h', () => {
    expect(parseLoadArgs(['--help']).help).toBe(true)
    expect(parseLoadArgs(['-h']).help).toBe(true)
  })

  it('documents every option in the usage text', () => {
    for (const option of ['--count', '--rate', '--concurrency', '--payload', '--bulk', '--protocol', '--instances', '--bulk-subscribe', '--tracing', '--keep', '--profile']) {
      expect(LOAD_USAGE).toContain(option)
    }
  })
})

describe('npm run bench arguments', () => {
  const ids = ['raw', 'dapr-http', 'soak']

  it('defaults to the full run of every scenario', () => {
    expect(parseBenchArgs([], ids)).toEqual({ quick: false, only: undefined, help: false })
  })

  it('reads --quick and --only', () => {
    expect(parseBenchArgs(['--quick', '--only', 'raw, soak'], ids)).toEqual({ quick: true, only: ['raw', 'soak'], help: false })
  })

  it('refuses unknown scenarios, naming the known ones', () => {
    const err = usageError(() => parseBenchArgs(['--only', 'raw,fast'], ids))
    expect(err.message).toBe('--only takes scenario ids from: raw, dapr-http, soak (not "fast").')
    expect(err.usage).toContain('raw, dapr-http, soak')
  })

  it('refuses an empty --only and unknown options', () => {
    expect(usageError(() => parseBenchArgs(['--only', ','], ids)).message).toContain('--only takes scenario ids')
    expect(usageError(() => parseBenchArgs(['--fast'], ids)).message).toContain("Unknown option '--fast'")
  })
})
