"""The docs site's reference pages, written from the code and the contract: the schemas
and the HTTP API (by ``iotpipe codegen``, committed, drift-checked), the CLI (at each
build of the site), and ingest's OpenAPI document (``generated/openapi.json``)."""
