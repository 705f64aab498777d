"""schemathesis against the real app's OpenAPI: no 5xx, every response as documented.

Every operation gets generated valid (positive) and invalid (negative) requests, sent
with an admin key to the app with the real Kafka producer behind it. schemathesis is
driven through its strategies rather than its pytest plugin (which does not support
pytest 9 yet). One check is left out: ``positive_data_acceptance`` expects every
schema-valid body to be accepted, but ingest also applies the late-data policy (an
``event_time`` years away is refused with 422 by design), which no static schema states.

Examples per operation and mode: ``IOTPIPE_FUZZ_EXAMPLES`` (20 by default, as in CI;
``nox -s fuzz`` sets 300). The stateful run follows the OpenAPI links (a started job
leads to its state and its cancellation) through schemathesis' state machine.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import positive_data_acceptance
from schemathesis.generation import GenerationMode

from ingest.main import build_app
from ingest.settings import IngestSettings
from iotpipe.contract.catalog import Contract
from tests.integration.ingest.conftest import LiveIngest

EXAMPLES_PER_MODE = int(os.environ.get("IOTPIPE_FUZZ_EXAMPLES", "20"))

pytestmark = pytest.mark.timeout(600 * max(1, EXAMPLES_PER_MODE // 20))


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


def test_stateful_runs_through_the_links_conform(
    live_settings: tuple[IngestSettings, Contract, str, str],
) -> None:
    ingest_settings, _, admin_key, _ = live_settings
    schema = schemathesis.openapi.from_asgi("/openapi.json", build_app(ingest_settings))
    headers = {"Authorization": f"Bearer {admin_key}"}
    calls: Counter[tuple[str, int]] = Counter()

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:  # type: ignore[type-arg]
            return {"headers": headers}

        def after_call(self, response: Any, case: schemathesis.Case) -> None:  # type: ignore[type-arg]
            calls[(case.operation.label, response.status_code)] += 1

        def validate_response(
            self,
            response: Any,
            case: schemathesis.Case,  # type: ignore[type-arg]
            additional_checks: Any = None,
            **kwargs: Any,
        ) -> None:
            case.validate_response(
                response, excluded_checks=[positive_data_acceptance], transport_kwargs=kwargs
            )

    Machine.run(
        settings=settings(
            max_examples=EXAMPLES_PER_MODE,
            stateful_step_count=10,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    assert calls[("POST /v1/jobs", 422)] > 0  # jobs were tried (a valid range is rare)
    # The machine follows the documented links (the run above could take them whenever a
    # job was accepted; test_the_job_links_lead_to_the_job follows them for certain).
    outgoing = Machine._transitions.operations["POST /v1/jobs"].outgoing
    assert {("GetJob", "GET /v1/jobs/{job_id}"), ("CancelJob", "DELETE /v1/jobs/{job_id}")} <= {
        (link.name, link.target.label) for link in outgoing
    }


def test_the_job_links_lead_to_the_job(live_ingest: LiveIngest) -> None:
    """Follow the links as the OpenAPI document states them: 202's body -> job_id."""
    client = live_ingest.client
    headers = {"Authorization": f"Bearer {live_ingest.admin_key}"}
    links = client.get("/openapi.json").json()["paths"]["/v1/jobs"]["post"]["responses"]["202"]
    now = datetime.now(UTC)
    job = {
        "box_id": "57000b8745fd40c8196ad04c",
        "from": (now - timedelta(days=2)).isoformat(),
        "to": (now - timedelta(days=1)).isoformat(),
    }
    started = client.post("/v1/jobs", json=job, headers=headers)
    assert started.status_code == 202, started.text
    for name, method in (("GetJob", "GET"), ("CancelJob", "DELETE")):
        link = links["links"][name]
        assert link["operationRef"] == "#/paths/~1v1~1jobs~1{job_id}/" + method.lower()
        pointer = link["parameters"]["job_id"].removeprefix("$response.body#/")
        followed = client.request(method, f"/v1/jobs/{started.json()[pointer]}", headers=headers)
        assert followed.status_code == 200, followed.text
        assert followed.json()["id"] == started.json()["id"]
