"""iotpipe: a contract-first IoT data pipeline.

Sensors post readings over HTTP/WebSocket to ``ingest``, which validates them against
models generated from the Avro contract in ``schemas/`` and produces them to Kafka;
``sink`` consumes them into MongoDB, which Grafana reads. This package holds what the
services share: the command line, settings, endpoints, errors and the local stack.
"""

__version__ = "0.1.0"
