"""schemathesis against the real app's OpenAPI: no 5xx, every response as documented.

Every operation gets generated valid (positive) and invalid (negative) requests, sent
with an admin key to the app with the real Kafka producer behind it. schemathesis is
driven through its strategies rather than its pytest plugin (which does not support
pytest 9 yet). One check is left out: ``positive_data_acceptance`` expects every
schema-valid body to be accepted, but ingest also applies the late-data policy (an
``event_time`` years away is refused with 422 by design), which no static schema states.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import positive_data_acceptance
from schemathesis.generation import GenerationMode

from ingest.main import build_app
from ingest.settings import IngestSettings
from iotpipe.contract.catalog import Contract

pytestmark = pytest.mark.timeout(600)

EXAMPLES_PER_MODE = 20


@pytest.mark.parametrize(
    "mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value
)
def test_api_conforms_and_never_fails(
    live_settings: tuple[IngestSettings, Contract, str, str], mode: GenerationMode
) -> None:
    ingest_settings, _, admin_key, _ = live_settings
    # An app of its own: schemathesis's ASGI transport runs (and ends) its lifespan.
    schema = schemathesis.openapi.from_asgi("/openapi.json", build_app(ingest_settings))
    headers = {"Authorization": f"Bearer {admin_key}"}
    operations = [r.ok() for r in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 13
    exercised = []
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES_PER_MODE,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

        try:
            run()
        except Unsatisfiable:
            # Negative mode has nothing to break in an operation without inputs.
            assert mode is GenerationMode.NEGATIVE, operation.label
            continue
        exercised.append(operation.label)
    # Positive mode runs every operation; negative mode every one that takes a body (a
    # free-form path string such as {name} has no invalid values to generate).
    must = operations if mode is GenerationMode.POSITIVE else [o for o in operations if o.body]
    assert {o.label for o in must} <= set(exercised)
