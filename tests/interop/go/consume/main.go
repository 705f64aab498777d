// Command consume reads SensorReadings from iotpipe's Kafka topic: an example to copy.
//
// Each record's value is in the Confluent wire format: a zero byte, the 4-byte id of
// the schema the producer wrote it with (the writer schema, kept in the schema
// registry), then the Avro body. We fetch the writer schema by that id (once per id)
// and resolve it against our own copy of the schema (the reader schema,
// sensor_reading.avsc), so records written with any registered version of the schema
// decode into one Go struct: fields an older record lacks take their defaults.
//
//	go run ./consume -brokers 127.0.0.1:9092 \
//	  -registry http://127.0.0.1:8081/apis/ccompat/v7 -topic sensor-data -count 10
//
// It prints one JSON line per reading: partition, offset, key, schema_id and the reading.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
)

// SensorReading is dev.iotpipe.SensorReading as Go. Timestamps (Avro
// timestamp-millis) are kept as milliseconds since the epoch: time.UnixMilli(t)
// makes a time.Time of one.
type SensorReading struct {
	EventID    string            `avro:"event_id" json:"event_id"`
	DeviceID   string            `avro:"device_id" json:"device_id"`
	SensorID   string            `avro:"sensor_id" json:"sensor_id"`
	SensorKind string            `avro:"sensor_kind" json:"sensor_kind"`
	Value      float64           `avro:"value" json:"value"`
	Unit       string            `avro:"unit" json:"unit"`
	EventTime  int64             `avro:"event_time" json:"event_time"`
	IngestTime *int64            `avro:"ingest_time" json:"ingest_time"`
	Location   *GeoLocation      `avro:"location" json:"location"`
	Quality    *string           `avro:"quality" json:"quality"`
	Metadata   map[string]string `avro:"metadata" json:"metadata"`
}

type GeoLocation struct {
	Latitude   float64  `avro:"latitude" json:"latitude"`
	Longitude  float64  `avro:"longitude" json:"longitude"`
	ElevationM *float64 `avro:"elevation_m" json:"elevation_m"`
}

// Line is what is printed for each reading.
type Line struct {
	Partition int32         `json:"partition"`
	Offset    int64         `json:"offset"`
	Key       string        `json:"key"`
	SchemaID  int           `json:"schema_id"`
	Reading   SensorReading `json:"reading"`
}

func env(name, fallback string) string {
	if value, ok := os.LookupEnv(name); ok {
		return value
	}
	return fallback
}

func main() {
	brokers := flag.String("brokers", env("KAFKA_BROKERS", "127.0.0.1:9092"), "Kafka bootstrap servers, comma-separated")
	registryURL := flag.String("registry", env("REGISTRY_URL", "http://127.0.0.1:8081/apis/ccompat/v7"), "Confluent-compatible schema registry URL")
	topic := flag.String("topic", env("TOPIC", "sensor-data"), "topic to read")
	group := flag.String("group", env("GROUP_ID", "reading-printer"), "consumer group")
	fromBeginning := flag.Bool("from-beginning", false, "with no committed offset, start at the oldest record (else at the newest)")
	count := flag.Int("count", 10, "readings to print before exiting")
	schemaFile := flag.String("schema", "sensor_reading.avsc", "our copy of the SensorReading schema (the reader schema)")
	flag.Parse()

	readerText, err := os.ReadFile(*schemaFile)
	if err != nil {
		log.Fatal(err)
	}
	reader := parse(string(readerText))

	registry, err := sr.NewClient(sr.URLs(*registryURL))
	if err != nil {
		log.Fatal(err)
	}
	start := kgo.NewOffset().AtEnd()
	if *fromBeginning {
		start = kgo.NewOffset().AtStart()
	}
	client, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(*brokers, ",")...),
		kgo.ConsumerGroup(*group),
		kgo.ConsumeTopics(*topic),
		kgo.ConsumeResetOffset(start),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close() // leaves the group, committing what was read

	ctx := context.Background()
	schemas := map[int]avro.Schema{} // writer schema id -> writer resolved to reader; nil: another record type
	for printed := 0; printed < *count; {
		fetches := client.PollFetches(ctx)
		if errs := fetches.Errors(); len(errs) > 0 {
			log.Fatal(errs)
		}
		for it := fetches.RecordIter(); !it.Done() && printed < *count; {
			record := it.Next()
			var header sr.ConfluentHeader
			id, body, err := header.DecodeID(record.Value)
			if err != nil {
				log.Fatalf("offset %d: %v", record.Offset, err)
			}
			schema, known := schemas[id]
			if !known {
				schema = resolved(ctx, registry, id, reader)
				schemas[id] = schema
			}
			if schema == nil {
				continue // the topic carries other record types too (device events)
			}
			var reading SensorReading
			if err := avro.Unmarshal(schema, body, &reading); err != nil {
				log.Fatalf("offset %d: %v", record.Offset, err)
			}
			line, _ := json.Marshal(Line{record.Partition, record.Offset, string(record.Key), id, reading})
			fmt.Println(string(line))
			printed++
		}
	}
}

// resolved fetches writer schema `id` from the registry and returns the schema that
// reads its records into the reader's shape, or nil if it is another record type.
func resolved(ctx context.Context, registry *sr.Client, id int, reader avro.Schema) avro.Schema {
	fetched, err := registry.SchemaByID(ctx, id)
	if err != nil {
		log.Fatalf("schema %d: %v", id, err)
	}
	writer := parse(fetched.Schema)
	if writer.(avro.NamedSchema).FullName() != reader.(avro.NamedSchema).FullName() {
		return nil
	}
	schema, err := avro.NewSchemaCompatibility().Resolve(reader, writer)
	if err != nil {
		log.Fatalf("schema %d does not resolve to ours: %v", id, err)
	}
	return schema
}

// parse reads one schema on its own: the writer and the reader define the same names.
func parse(text string) avro.Schema {
	schema, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		log.Fatal(err)
	}
	return schema
}
