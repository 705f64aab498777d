// Read SensorReadings from iotpipe's Kafka topic in Node.js: an example to copy.
//
// Each record's value is in the Confluent wire format: a zero byte, the 4-byte id of
// the schema the producer wrote it with (the writer schema, kept in the schema
// registry), then the Avro body. @kafkajs/confluent-schema-registry fetches the writer
// schema by that id (once per id) and resolves it against our own copy of the schema
// (the reader schema, sensor_reading.avsc), so records written with any registered
// version of the schema come out in one shape: fields an older record lacks take
// their defaults.
//
//   npm ci
//   node consume.mjs --brokers 127.0.0.1:9092 \
//     --registry http://127.0.0.1:8081/apis/ccompat/v7 --topic sensor-data --count 10
//
// It prints one JSON line per reading: partition, offset, key, schema_id and the
// reading (timestamps as Avro's timestamp-millis holds them: milliseconds since the
// epoch; new Date(ms) makes a Date of one).

import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import kafkajs from 'kafkajs'
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry'
import { decompress } from 'fzstd'

const { CompressionCodecs, CompressionTypes, Kafka, logLevel } = kafkajs // CommonJS: no named codec exports

// iotpipe's ingest compresses its batches with zstd, which kafkajs reads only through a
// codec registered here (fzstd: a zstd decoder in plain JavaScript).
CompressionCodecs[CompressionTypes.ZSTD] = () => ({
  decompress: async (buffer) => Buffer.from(decompress(buffer)),
  compress: async () => {
    throw new Error('this consumer writes nothing')
  },
})

const { values: opts } = parseArgs({
  options: {
    brokers: { type: 'string', default: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092' },
    registry: {
      type: 'string',
      default: process.env.REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7',
    },
    topic: { type: 'string', default: process.env.TOPIC ?? 'sensor-data' },
    group: { type: 'string', default: process.env.GROUP_ID ?? 'reading-printer' },
    // With no committed offset, start at the oldest record (else at the newest).
    'from-beginning': { type: 'boolean', default: false },
    count: { type: 'string', default: '10' },
    schema: { type: 'string', default: 'sensor_reading.avsc' },
  },
})

const readerSchema = JSON.parse(readFileSync(opts.schema, 'utf8'))
const readingType = `${readerSchema.namespace}.${readerSchema.name}`
const registry = new SchemaRegistry({ host: opts.registry })
const kafka = new Kafka({
  clientId: 'reading-printer',
  brokers: opts.brokers.split(','),
  logLevel: logLevel.WARN, // kafkajs logs info to stdout; keep stdout for the readings
})
const consumer = kafka.consumer({ groupId: opts.group })

let left = Number(opts.count)
let finished
const done = new Promise((resolve, reject) => {
  finished = resolve
  consumer.on(consumer.events.CRASH, ({ payload }) => payload.restart || reject(payload.error))
})

await consumer.connect()
await consumer.subscribe({ topic: opts.topic, fromBeginning: opts['from-beginning'] })
await consumer.run({
  eachMessage: async ({ partition, message }) => {
    if (left === 0) return
    const schemaId = message.value.readUInt32BE(1) // after the magic byte
    // The topic carries other record types too (device events): the writer schema's
    // full name says which one a record is.
    const writer = await registry.getSchema(schemaId)
    if (writer.name !== readingType) return
    const reading = await registry.decode(message.value, {
      [SchemaType.AVRO]: { readerSchema },
    })
    const line = {
      partition,
      offset: Number(message.offset),
      key: message.key?.toString(),
      schema_id: schemaId,
      reading,
    }
    console.log(JSON.stringify(line))
    if (--left === 0) finished()
  },
})
await done
await consumer.disconnect() // leaves the group, committing what was read
