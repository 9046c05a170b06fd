import { describe, expect, it } from 'vitest'
import { countDeliveries, percentile, ratePerSecond, ratio, round, summarizeLatency } from '../../bench/lib/stats.ts'
import { paddingFor, makeBenchOrder } from '../../bench/lib/order.ts'
import { orderProblem } from '../../shared/order.ts'

describe('percentile (nearest rank)', () => {
  const tenValues = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]

  it('picks values that occurred', () => {
    expect(percentile(tenValues, 50)).toBe(5)
    expect(percentile(tenValues, 90)).toBe(9)
    expect(percentile(tenValues, 99)).toBe(10)
    expect(percentile(tenValues, 100)).toBe(10)
    expect(percentile(tenValues, 0)).toBe(1)
  })

  it('handles one value and no value', () => {
    expect(percentile([42], 99)).toBe(42)
    expect(percentile([], 50)).toBeNaN()
  })

  it('refuses percentiles outside 0..100', () => {
    expect(() => percentile(tenValues, 101)).toThrow(RangeError)
    expect(() => percentile(tenValues, -1)).toThrow(RangeError)
    expect(() => percentile(tenValues, Number.NaN)).toThrow(RangeError)
  })

  it('p99 of 1,000 values is the 990th', () => {
    const values = Array.from({ length: 1000 }, (_, i) => i + 1)
    expect(percentile(values, 99)).toBe(990)
  })
})

describe('summarizeLatency', () => {
  it('sorts a copy, not the input', () => {
    const input = [30, 10, 20]
    const s = summarizeLatency(input)
    expect(input).toEqual([30, 10, 20])
    expect(s).toEqual({ p50: 20, p90: 30, p99: 30, max: 30, mean: 20, count: 3 })
  })

  it('is all NaN for no values, with a count of 0', () => {
    const s = summarizeLatency([])
    expect(s.count).toBe(0)
    expect(s.p50).toBeNaN()
    expect(s.mean).toBeNaN()
  })
})

describe('countDeliveries', () => {
  it('counts lost, delivered and duplicated orders by orderId', () => {
    const processed = new Map([[1, 1], [2, 2], [4, 1]])
    expect(countDeliveries([1, 2, 3, 4], processed)).toEqual({ accepted: 4, delivered: 3, lost: 1, duplicates: 1, unexpected: 0 })
  })

  it('counts an order processed though its publish failed as unexpected', () => {
    expect(countDeliveries([1], new Map([[1, 1], [9, 1]]))).toEqual({ accepted: 1, delivered: 1, lost: 0, duplicates: 0, unexpected: 1 })
  })

  it('counts an order processed three times as two duplicates', () => {
    expect(countDeliveries([7], new Map([[7, 3]])).duplicates).toBe(2)
  })
})

describe('rates and ratios', () => {
  it('per second over a span in ms', () => {
    expect(ratePerSecond(500, 250)).toBe(2000)
    expect(ratePerSecond(10, 0)).toBe(0)
  })

  it('ratio rounds to 2 decimals and is null without a baseline', () => {
    expect(ratio(1, 3)).toBe(0.33)
    expect(ratio(5, 0)).toBeNull()
    expect(ratio(null, 3)).toBeNull()
    expect(ratio(3, undefined)).toBeNull()
  })

  it('round keeps 3 significant digits below 100 and integers above', () => {
    expect(round(1234.567)).toBe(1235)
    expect(round(12.3456)).toBe(12.3)
    expect(round(0.012345)).toBe(0.0123)
    expect(round(Number.NaN)).toBeNull()
    expect(round(undefined)).toBeNull()
  })
})

describe('bench orders', () => {
  it('are valid lab orders of about the size asked for', () => {
    for (const bytes of [256, 1024, 4096]) {
      const order = makeBenchOrder(123_456, paddingFor(bytes))
      expect(orderProblem(order)).toBeUndefined()
      expect(Math.abs(JSON.stringify(order).length - bytes)).toBeLessThanOrEqual(8)
    }
  })

  it('get no padding when the fields alone are larger', () => {
    expect(paddingFor(10)).toBe('')
  })
})
