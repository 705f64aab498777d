"""``iotpipe bench``: the pipeline measured against its limits and its peers on this
machine, in one run.

Each figure (ingest single and batch, WebSocket, sink, end to end) is printed with the
limit it is held to, measured the same way in the same run: the bare producer (ingest's
generated Avro codec, no HTTP; and confluent-kafka's AvroSerializer, the earlier runs'
limit), the bare HTTP server (ingest's uvicorn options, a plain ASGI no-op; and a FastAPI
no-op, the earlier runs' limit) and bare database inserts (same documents). The targets
compare ingest with Benthos and the sink with Kafka Connect, measured in the same run
(``peers/``), and end to end with a latency bound. Results go to
results/bench/latest.json and a PNG chart. Nothing here asserts a timing.
"""
