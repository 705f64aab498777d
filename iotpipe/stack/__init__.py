"""The local stack: Kafka (KRaft), Apicurio Registry and FerretDB as plain processes.

The same system that ``compose/docker-compose.yml`` deploys with containers, run on
loopback without Docker. Build inputs live in ``compose/local``; downloads and builds
are cached (``~/.cache/iotpipe``); data, logs and pid files live in one state folder.
Import from the submodules (``settings``, ``manager``): this package imports nothing,
so services that only need the settings do not load the probes' client libraries.
"""
