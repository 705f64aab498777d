// Benthos v4 (core components only) plus one output plugin, as the benchmark's peer of
// ingest: http_server -> bloblang -> Avro in the Confluent wire format -> Kafka.
//
// Benthos core ships the http_server input, bloblang and the processors, but neither a
// Kafka output nor a schema registry encoder (those live in other, differently licensed
// modules), nor a check of ingest's API keys, so this program registers two plugins.
//
// The processor iotpipe_api_key checks a request's key as ingest does
// (ingest/auth/keys.py): the Authorization header (http_server puts each request header
// in the message's metadata) must be "Bearer iotp_<12 hex key id>_<43 char secret>", the
// key id must be one of the configured keys (key id -> hex SHA-256 of the secret), and
// the secret's SHA-256 must match in constant time. Otherwise the processor fails the
// message, which the config (iotpipe/bench/peers/benthos.py) answers with 401 and drops:
// nothing of that request reaches the output.
//
// The batch output iotpipe_kafka_avro:
//
//   - at connect, it reads the subject's latest schema and id from the registry's
//     Confluent-compatible API and opens a franz-go client (acks=all, idempotent, zstd,
//     5 ms linger: ingest's producer settings);
//   - per message, it decodes the JSON reading into a typed struct (the contract's
//     fields), checks what the Avro encoder would not, encodes it with hamba/avro and
//     frames it (magic byte 0, 4-byte schema id, Avro body);
//   - it produces the batch keyed by device_id with the record-type header, and returns
//     only once Kafka acknowledged every record, so http_server answers 200 after the
//     readings are in the topic (502 if not), as ingest does.
//
// Run: iotpipe-benthos -c config.yaml (the usual Benthos command line).
package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/twmb/franz-go/pkg/kgo"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
)

// GeoLocation is the contract's dev.iotpipe.GeoLocation.
type GeoLocation struct {
	Latitude   float64  `json:"latitude" avro:"latitude"`
	Longitude  float64  `json:"longitude" avro:"longitude"`
	ElevationM *float64 `json:"elevation_m" avro:"elevation_m"`
}

// SensorReading is the contract's dev.iotpipe.SensorReading (schemas/sensor_reading.avsc).
type SensorReading struct {
	EventID    string            `json:"event_id" avro:"event_id"`
	DeviceID   string            `json:"device_id" avro:"device_id"`
	SensorID   string            `json:"sensor_id" avro:"sensor_id"`
	SensorKind string            `json:"sensor_kind" avro:"sensor_kind"`
	Value      float64           `json:"value" avro:"value"`
	Unit       string            `json:"unit" avro:"unit"`
	EventTime  time.Time         `json:"event_time" avro:"event_time"`
	IngestTime *time.Time        `json:"ingest_time" avro:"ingest_time"`
	Location   *GeoLocation      `json:"location" avro:"location"`
	Quality    *string           `json:"quality" avro:"quality"`
	Metadata   map[string]string `json:"metadata" avro:"metadata"`
}

func (r *SensorReading) check() error {
	switch {
	case r.EventID == "":
		return errors.New("event_id is missing")
	case r.DeviceID == "" || len(r.DeviceID) > 128:
		return errors.New("device_id is missing or too long")
	case r.SensorID == "" || len(r.SensorID) > 128:
		return errors.New("sensor_id is missing or too long")
	case r.Unit == "" || len(r.Unit) > 32:
		return errors.New("unit is missing or too long")
	case math.IsNaN(r.Value) || math.Abs(r.Value) > 1e9:
		return errors.New("value is not finite or out of range")
	case r.EventTime.IsZero():
		return errors.New("event_time is missing")
	}
	if r.Metadata == nil {
		r.Metadata = map[string]string{}
	}
	return nil
}

// apiKeyPattern is ingest's key format: iotp_<key id>_<secret> (ingest/auth/keys.py).
var apiKeyPattern = regexp.MustCompile(`^iotp_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$`)

var (
	errNoKey  = errors.New("send your device's API key as 'Authorization: Bearer <key>'")
	errBadKey = errors.New("the API key is unknown or revoked")
	// Compared against when the key id is unknown, so that case costs the same.
	noDigest = strings.Repeat("0", sha256.Size*2)
)

type apiKeyCheck struct {
	digests map[string]string // key id -> hex SHA-256 of the secret
}

func apiKeySpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Summary("Lets a message through only with a valid iotpipe API key in its Authorization metadata.").
		Field(service.NewStringMapField("keys").
			Description("Key id -> hex SHA-256 of the key's secret (ingest's key file)."))
}

func newAPIKeyCheck(conf *service.ParsedConfig, _ *service.Resources) (service.Processor, error) {
	digests, err := conf.FieldStringMap("keys")
	if err != nil {
		return nil, err
	}
	for id, digest := range digests {
		if len(digest) != len(noDigest) {
			return nil, fmt.Errorf("key %s: sha256 must be %d hex characters", id, len(noDigest))
		}
		digests[id] = strings.ToLower(digest)
	}
	return &apiKeyCheck{digests: digests}, nil
}

// verify is KeyStore.verify: the id finds the entry, the secret's digest is compared in
// constant time (also for an unknown id).
func (c *apiKeyCheck) verify(presented string) error {
	match := apiKeyPattern.FindStringSubmatch(strings.TrimSpace(presented))
	if match == nil {
		return errBadKey
	}
	expected, known := c.digests[match[1]]
	if !known {
		expected = noDigest
	}
	sum := sha256.Sum256([]byte(match[2]))
	same := subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(expected)) == 1
	if !known || !same {
		return errBadKey
	}
	return nil
}

func (c *apiKeyCheck) Process(_ context.Context, msg *service.Message) (service.MessageBatch, error) {
	auth, _ := msg.MetaGet("Authorization")
	scheme, key, _ := strings.Cut(auth, " ")
	if !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(key) == "" {
		return nil, errNoKey
	}
	if err := c.verify(key); err != nil {
		return nil, err
	}
	return service.MessageBatch{msg}, nil
}

func (c *apiKeyCheck) Close(context.Context) error { return nil }

const recordTypeHeader = "iotpipe-record-type"

type kafkaAvroOutput struct {
	brokers    []string
	topic      string
	registry   string
	recordType string
	lingerMs   int

	client *kgo.Client
	schema avro.Schema
	frame  [5]byte
}

func outputSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Summary("Encodes JSON readings to Avro (Confluent wire format) and produces them to Kafka.").
		Field(service.NewStringListField("seed_brokers")).
		Field(service.NewStringField("topic")).
		Field(service.NewStringField("registry_url")).
		Field(service.NewStringField("record_type").Default("dev.iotpipe.SensorReading")).
		Field(service.NewIntField("linger_ms").Default(5)).
		Field(service.NewIntField("max_in_flight").Default(64))
}

func newOutput(conf *service.ParsedConfig, _ *service.Resources) (
	service.BatchOutput, service.BatchPolicy, int, error,
) {
	var out kafkaAvroOutput
	var err error
	var inFlight int
	if out.brokers, err = conf.FieldStringList("seed_brokers"); err != nil {
		return nil, service.BatchPolicy{}, 0, err
	}
	if out.topic, err = conf.FieldString("topic"); err != nil {
		return nil, service.BatchPolicy{}, 0, err
	}
	if out.registry, err = conf.FieldString("registry_url"); err != nil {
		return nil, service.BatchPolicy{}, 0, err
	}
	if out.recordType, err = conf.FieldString("record_type"); err != nil {
		return nil, service.BatchPolicy{}, 0, err
	}
	if out.lingerMs, err = conf.FieldInt("linger_ms"); err != nil {
		return nil, service.BatchPolicy{}, 0, err
	}
	if inFlight, err = conf.FieldInt("max_in_flight"); err != nil {
		return nil, service.BatchPolicy{}, 0, err
	}
	return &out, service.BatchPolicy{}, inFlight, nil
}

// latestSchema reads the subject's latest version (TopicRecordNameStrategy subject).
func latestSchema(ctx context.Context, registry, subject string) (int, string, error) {
	address := strings.TrimRight(registry, "/") + "/subjects/" + url.PathEscape(subject) +
		"/versions/latest"
	request, err := http.NewRequestWithContext(ctx, http.MethodGet, address, nil)
	if err != nil {
		return 0, "", err
	}
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		return 0, "", err
	}
	defer response.Body.Close()
	body, err := io.ReadAll(response.Body)
	if err != nil {
		return 0, "", err
	}
	if response.StatusCode != http.StatusOK {
		return 0, "", fmt.Errorf("registry: %s for %s: %s", response.Status, subject, body)
	}
	var version struct {
		ID     int    `json:"id"`
		Schema string `json:"schema"`
	}
	if err := json.Unmarshal(body, &version); err != nil {
		return 0, "", err
	}
	return version.ID, version.Schema, nil
}

func (o *kafkaAvroOutput) Connect(ctx context.Context) error {
	id, text, err := latestSchema(ctx, o.registry, o.topic+"-"+o.recordType)
	if err != nil {
		return err
	}
	schema, err := avro.Parse(text)
	if err != nil {
		return fmt.Errorf("schema %d: %w", id, err)
	}
	client, err := kgo.NewClient(
		kgo.SeedBrokers(o.brokers...),
		kgo.DefaultProduceTopic(o.topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotent writes are franz-go's default
		kgo.ProducerBatchCompression(kgo.ZstdCompression()),
		kgo.ProducerLinger(time.Duration(o.lingerMs)*time.Millisecond),
	)
	if err != nil {
		return err
	}
	if err := client.Ping(ctx); err != nil {
		client.Close()
		return err
	}
	o.schema, o.client = schema, client
	o.frame[0] = 0
	binary.BigEndian.PutUint32(o.frame[1:], uint32(id))
	return nil
}

func (o *kafkaAvroOutput) encode(raw []byte) (*kgo.Record, error) {
	var reading SensorReading
	if err := json.Unmarshal(raw, &reading); err != nil {
		return nil, err
	}
	if err := reading.check(); err != nil {
		return nil, err
	}
	body, err := avro.Marshal(o.schema, &reading)
	if err != nil {
		return nil, err
	}
	value := make([]byte, 0, len(o.frame)+len(body))
	value = append(append(value, o.frame[:]...), body...)
	return &kgo.Record{
		Key:     []byte(reading.DeviceID),
		Value:   value,
		Headers: []kgo.RecordHeader{{Key: recordTypeHeader, Value: []byte(o.recordType)}},
	}, nil
}

func (o *kafkaAvroOutput) WriteBatch(ctx context.Context, batch service.MessageBatch) error {
	records := make([]*kgo.Record, 0, len(batch))
	for i, msg := range batch {
		raw, err := msg.AsBytes()
		if err == nil {
			var record *kgo.Record
			if record, err = o.encode(raw); err == nil {
				records = append(records, record)
				continue
			}
		}
		return fmt.Errorf("reading %d: %w", i, err)
	}
	return o.client.ProduceSync(ctx, records...).FirstErr()
}

func (o *kafkaAvroOutput) Close(context.Context) error {
	if o.client != nil {
		o.client.Close()
	}
	return nil
}

func main() {
	if err := service.RegisterProcessor("iotpipe_api_key", apiKeySpec(), newAPIKeyCheck); err != nil {
		panic(err)
	}
	if err := service.RegisterBatchOutput("iotpipe_kafka_avro", outputSpec(), newOutput); err != nil {
		panic(err)
	}
	service.RunCLI(context.Background())
}
