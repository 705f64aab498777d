"""ingest: the FastAPI service that validates records and produces them to Kafka.

Layout: ``domain/`` decides what is accepted (no HTTP, no Kafka), ``publisher/`` is the
port to Kafka (real adapter and in-memory fake), ``auth/`` the per-device API keys,
``api/`` the routes, and ``errors`` the one module that maps errors to HTTP statuses.
ingest never writes to MongoDB and never imports pymongo or sink (a test enforces it).
"""
