// Sends readings to ingest through a client generated from its OpenAPI document:
// openapi-typescript wrote the types (src/api.d.ts, from /openapi.json), openapi-fetch
// makes the calls. Then sends what a careless client would, and prints every answer as
// one JSON line: {case, status, contentType, body}.
//   npm ci && curl -o openapi.json http://127.0.0.1:8000/openapi.json
//   npm run generate && npm run build
//   node out/send.js http://127.0.0.1:8000 DEVICE_KEY DEVICE_ID BATCH_LIMIT
import createClient from "openapi-fetch";
import type { components, paths } from "./api.js";

// What a client sends: the contract's record, but event_id may be left out (ingest
// assigns one), ingest_time is ingest's, and event_time may also be epoch s/ms.
type SensorReading = components["schemas"]["SensorReadingRequest"];

const [baseUrl, deviceKey, deviceId, batchLimit] = process.argv.slice(2);
const client = createClient<paths>({ baseUrl });
const headers = { Authorization: `Bearer ${deviceKey}` }; // or X-API-Key: <key>

function reading(value: number, device = deviceId): SensorReading {
  return {
    event_id: crypto.randomUUID(), // ours: a retry with the same id is stored once
    device_id: device,
    sensor_id: "temp-1",
    sensor_kind: "TEMPERATURE",
    value,
    unit: "Cel",
    event_time: new Date().toISOString(),
  };
}

type Answer = { data?: unknown; error?: unknown; response: Response };

async function report(name: string, call: Promise<Answer>): Promise<void> {
  const { data, error, response } = await call;
  const contentType = response.headers.get("content-type");
  const body = data ?? error; // openapi-fetch parses both (problem+json for errors)
  console.log(JSON.stringify({ case: name, status: response.status, contentType, body }));
}

// What the API is for: one reading, then a batch (202 once Kafka has them all).
await report("single", client.POST("/v1/readings", { body: reading(21.5), headers }));
const { event_id: _assigned, ...noId } = reading(21.4); // the types allow leaving it out
await report("no-event-id", client.POST("/v1/readings", {
  body: { ...noId, event_time: Date.now() }, // and epoch milliseconds for event_time
  headers,
}));
const batch = [reading(21.6), reading(21.7), reading(21.8)];
await report("batch", client.POST("/v1/readings/batch", { body: batch, headers }));

// Bad input. The generated types refuse the first two at compile time (tsc fails should
// they ever accept them: @ts-expect-error), so they are forced through, as from a
// client without those types.
const { unit: _, ...noUnit } = reading(1);
await report("missing-field", client.POST("/v1/readings", {
  // @ts-expect-error: unit is required
  body: noUnit,
  headers,
}));
await report("wrong-type", client.POST("/v1/readings", {
  // @ts-expect-error: value is a number
  body: { ...reading(2), value: "warm" },
  headers,
}));
await report("unknown-key", client.POST("/v1/readings", {
  body: reading(3),
  headers: { Authorization: "Bearer not-a-key" },
}));
await report("no-key", client.POST("/v1/readings", { body: reading(4) }));
await report("other-device", client.POST("/v1/readings", {
  body: reading(5, "someone-elses-device"),
  headers,
}));
const tooMany = Array.from({ length: Number(batchLimit) + 1 }, (_, i) => reading(i));
await report("oversized-batch", client.POST("/v1/readings/batch", { body: tooMany, headers }));
await report("batch-partly-bad", client.POST("/v1/readings/batch", {
  body: [reading(6), { ...reading(7), value: Number.MAX_VALUE }],
  headers,
}));
