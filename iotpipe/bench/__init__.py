"""``iotpipe bench``: the pipeline measured against its limits on this machine, in one run.

Each figure (ingest single and batch, WebSocket, sink, end to end) is printed with the
limit it is held to, measured the same way in the same run: the bare producer (same
Avro serializer, no HTTP), the bare HTTP server (same server stack, a no-op endpoint)
and bare database inserts (same documents). Results go to results/bench/latest.json and
a PNG chart. Nothing here asserts a timing.
"""
