"""HTTP and WebSocket routes of ingest."""
