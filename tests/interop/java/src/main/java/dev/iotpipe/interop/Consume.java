package dev.iotpipe.interop;

import io.apicurio.registry.serde.avro.AvroKafkaDeserializer;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Reads COUNT records of an iotpipe topic and prints each as one JSON line.
 *
 * <p>Usage: {@code Consume BOOTSTRAP REGISTRY_URL TOPIC COUNT}, for example {@code Consume
 * 127.0.0.1:9092 http://127.0.0.1:8081/apis/registry/v3 sensor-data 10}.
 */
public final class Consume {
  public static void main(String[] args) {
    String bootstrap = args[0], registry = args[1], topic = args[2];
    int count = Integer.parseInt(args[3]);

    // Values are in Confluent's wire format: magic byte 0, a 4-byte schema id, then the
    // Avro body. The id is the registry's content id (the one its Confluent-compatible
    // API hands out). Apicurio's deserializer reads that by default; the settings below
    // say so anyway: 4 bytes, a content id, nothing in the record headers. It fetches
    // each writer schema once, by id, from the registry's own API.
    AvroKafkaDeserializer<GenericRecord> avro = new AvroKafkaDeserializer<>();
    avro.configure(
        Map.of(
            "apicurio.registry.url", registry, // Apicurio's own API: /apis/registry/v3
            "apicurio.registry.id-handler", "io.apicurio.registry.serde.Default4ByteIdHandler",
            "apicurio.registry.use-id", "contentId",
            "apicurio.registry.headers.enabled", "false"),
        false); // a value deserializer, not a key one

    Map<String, Object> config =
        Map.of(
            "bootstrap.servers", bootstrap,
            "group.id", "java-consume-" + UUID.randomUUID(), // a fresh group: from the start
            "auto.offset.reset", "earliest",
            "enable.auto.commit", "false");
    PrintStream out =
        new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
    GenericData avroJson = GenericData.get(); // its toString writes a datum as JSON text

    // Keys are the device id (UTF-8); values are read as bytes to show the schema id too.
    try (KafkaConsumer<String, byte[]> consumer =
        new KafkaConsumer<>(config, new StringDeserializer(), new ByteArrayDeserializer())) {
      consumer.subscribe(List.of(topic));
      int seen = 0;
      while (seen < count) {
        for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofSeconds(1))) {
          int schemaId = ByteBuffer.wrap(record.value(), 1, 4).getInt();
          GenericRecord value = avro.deserialize(topic, record.headers(), record.value());
          // The record type is the writer schema's full name, e.g. dev.iotpipe.SensorReading.
          out.printf(
              "{\"partition\": %d, \"offset\": %d, \"key\": %s, \"schema_id\": %d,"
                  + " \"type\": \"%s\", \"value\": %s}%n",
              record.partition(), record.offset(), avroJson.toString(record.key()), schemaId,
              value.getSchema().getFullName(), avroJson.toString(value));
          if (++seen == count) {
            break;
          }
        }
      }
    }
    avro.close();
  }
}
