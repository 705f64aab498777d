"""ingest: the FastAPI service that validates readings and produces them to Kafka.

Not built yet (issue "ingest"); it will never import pymongo or sink.
"""
