"""A real ingest server process for the openSenseMap tests: ``ingest.main``'s wiring and
the shipped uvicorn options (so the shipped HTTP parser), with the boxes of a JSON file
(``IOTPIPE_TEST_BOXES``) instead of the registry topic.

``python -m tests.integration.opensensemap.server`` (settings from IOTPIPE_INGEST_*).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from ingest.app import create_app
from ingest.auth.keys import KeyStore
from ingest.main import kafka_publisher
from ingest.server import uvicorn_options
from ingest.settings import IngestSettings
from iotpipe.contract.catalog import Contract
from iotpipe.devices.boxes import Box, InMemoryBoxes

__all__ = ["create"]


def create() -> FastAPI:
    settings = IngestSettings()
    assert settings.kafka_bootstrap_servers and settings.registry_url
    boxes = json.loads(Path(os.environ["IOTPIPE_TEST_BOXES"]).read_text())
    contract = Contract.load()
    publisher = kafka_publisher(
        settings, contract, settings.kafka_bootstrap_servers, settings.registry_url
    )
    return create_app(
        settings=settings,
        publisher=publisher,
        keys=KeyStore(settings.keys_file),
        contract=contract,
        boxes=InMemoryBoxes(Box.from_osem(b) for b in boxes),
    )


if __name__ == "__main__":
    uvicorn.run(
        "tests.integration.opensensemap.server:create",
        factory=True,
        **uvicorn_options(IngestSettings()),
    )
