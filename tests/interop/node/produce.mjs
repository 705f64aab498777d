// Write SensorReadings to iotpipe's Kafka topic from Node.js: an example to copy.
//
// iotpipe's sink reads any record in the Confluent wire format whose writer schema is
// a registered version of one of its record types: a zero byte, the 4-byte id of the
// schema in the registry, then the Avro body. Here the id is that of the latest
// SensorReading schema under the topic's subject (the subject is named
// "<topic>-<record type's full name>"), and @kafkajs/confluent-schema-registry writes
// the frame and the body (with avsc). The key is the device id, so one device's
// readings stay in order, on one partition.
//
//   npm ci
//   node produce.mjs --brokers 127.0.0.1:9092 \
//     --registry http://127.0.0.1:8081/apis/ccompat/v7 --topic sensor-data < readings.jsonl
//
// Each line of stdin is one reading as JSON, every field of the schema given (null
// where there is none), timestamps as milliseconds since the epoch, e.g.
//   {"event_id": "0b8f6e2a-6f43-4c8e-9a55-4f1f5a3c2d10", "device_id": "sensebox-5f2b6c9e",
//    "sensor_id": "temp-1", "sensor_kind": "TEMPERATURE", "value": 21.4, "unit": "Cel",
//    "event_time": 1795867200000, "ingest_time": null, "location": null,
//    "quality": null, "metadata": {}}

import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { Kafka, Partitioners, logLevel } from 'kafkajs'
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry'

const { values: opts } = parseArgs({
  options: {
    brokers: { type: 'string', default: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092' },
    registry: {
      type: 'string',
      default: process.env.REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7',
    },
    topic: { type: 'string', default: process.env.TOPIC ?? 'sensor-data' },
  },
})

const registry = new SchemaRegistry({ host: opts.registry })
const schemaId = await registry.getLatestSchemaId(`${opts.topic}-dev.iotpipe.SensorReading`)

const messages = []
for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue
  const reading = JSON.parse(line)
  // encode() checks the reading against the schema and frames it: 0, id, Avro body.
  messages.push({ key: reading.device_id, value: await registry.encode(schemaId, reading) })
}

const kafka = new Kafka({
  clientId: 'reading-writer',
  brokers: opts.brokers.split(','),
  logLevel: logLevel.WARN,
})
// Partitions keys as Kafka's Java clients do (murmur2).
const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
await producer.connect()
await producer.send({ topic: opts.topic, messages, acks: -1 }) // -1: all in-sync replicas
await producer.disconnect()
console.error(`wrote ${messages.length} readings with schema ${schemaId} to ${opts.topic}`)
