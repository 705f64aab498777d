"""What ingest accepts: pure functions over parsed JSON, knowing nothing of HTTP or Kafka."""
