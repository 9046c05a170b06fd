import { describe, expect, it } from 'vitest'
import { cloudEventOf, fieldsOf, type StreamEntry } from '../../lab/redis.ts'

const event = { specversion: '1.0', type: 'com.dapr.event.sent', source: 'checkout', id: 'e1', data: { orderId: 7 } }
const data = JSON.stringify(event)

describe('reading a Redis stream entry as Dapr writes it', () => {
  it('finds data and metadata by name when data comes first', () => {
    expect(fieldsOf(['data', data, 'metadata', '{}'])).toEqual({ data, metadata: '{}' })
  })

  it('finds them by name when metadata comes first (the order varies per entry)', () => {
    const entry: StreamEntry = ['1-0', ['metadata', '{}', 'data', data]]
    expect(fieldsOf(entry[1])).toEqual({ data, metadata: '{}' })
    expect(cloudEventOf(entry)).toEqual(event)
  })

  it('reads the CloudEvent whatever the order', () => {
    expect(cloudEventOf(['1-0', ['data', data, 'metadata', '{}']])).toEqual(event)
    expect(cloudEventOf(['1-0', ['metadata', '{"ttlInSeconds":"5"}', 'data', data]])).toEqual(event)
  })

  it('reads an entry without metadata', () => {
    expect(cloudEventOf(['1-0', ['data', data]])).toEqual(event)
  })

  it('does not take a value for a field name, nor metadata for the event', () => {
    // A metadata value that reads "data" must not be taken for the data field's name.
    expect(fieldsOf(['metadata', 'data', 'data', data])).toEqual({ metadata: 'data', data })
    expect(cloudEventOf(['1-0', ['metadata', '{}']])).toBeUndefined()
    expect(cloudEventOf(['1-0', ['data', 'not json', 'metadata', '{}']])).toBeUndefined()
  })
})
