"""The suite leaves nothing on the shared stack: a run of tests that register schema
subjects, make topics (some made by the code under test: a jobs topic, a DLQ) and fill
databases, in a pytest of its own, leaves none of its subjects (soft-deleted ones
included), topics or databases behind. The child run's names carry a run tag of their
own (tests.scratch), so they are counted apart from whatever else uses the stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from pymongo import MongoClient

from iotpipe.paths import REPO_DIR
from tests.scratch import Scratch, list_subjects, run_pattern

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

# Each way a test comes by its resources: a module's live ingest (subjects, its topic, the
# jobs topic ingest makes), a sink world (topic, DLQ, subjects, database), subjects a test
# registers itself, a topic made by the code under test, a consumer's group.
SUBSET = [
    "tests/integration/ingest/test_produce.py::test_posted_records_arrive_in_kafka_exactly_as_sent",
    "tests/integration/sink/test_sink.py::test_a_backlog_is_written_back_to_back_and_the_views_still_keep_up",
    "tests/integration/contract/test_decode_paths.py",
    "tests/integration/contract/test_registry.py::test_push_registers_every_subject_with_full_transitive",
    "tests/integration/test_stack_is_real.py",
    "tests/integration/jobs/test_store.py",
    "tests/integration/docs/test_consume_example.py",
]


def tagged(endpoints: dict[str, str], run: str) -> dict[str, list[str]]:
    """The subjects (soft-deleted too), topics and databases named by run ``run``."""
    pattern = run_pattern(run)
    topics = AdminClient({"bootstrap.servers": endpoints["kafka"]}).list_topics(timeout=15).topics
    client: MongoClient[dict[str, object]] = MongoClient(endpoints["mongodb"])
    with client:
        databases = client.list_database_names()
    return {
        "subject": sorted(s for s in list_subjects(endpoints["registry"]) if pattern.search(s)),
        "topic": sorted(t for t in topics if pattern.search(t)),
        "database": sorted(d for d in databases if pattern.search(d)),
    }


def run_tests(tests: list[str], run: str, tmp_path: Path, **env: str) -> Counter[str]:
    """Run ``tests`` in a pytest of their own with run tag ``run``; what they removed, by
    kind (the scratch ledger)."""
    ledger = tmp_path / f"{run}.jsonl"
    child = {
        **os.environ,
        "IOTPIPE_TEST_RUN": run,
        "IOTPIPE_TEST_LEDGER": str(ledger),
        "IOTPIPE_KEEP_STACK": "1",  # the stack is up (this session's); never stop it
        **env,
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--no-header", *tests],
        cwd=REPO_DIR,
        env=child,
        capture_output=True,
        text=True,
        timeout=200,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    lines = ledger.read_text().splitlines() if ledger.exists() else []
    return Counter(json.loads(line)["kind"] for line in lines)


def settled(endpoints: dict[str, str], run: str, timeout: float = 15) -> dict[str, list[str]]:
    """Tagged names left, once deleted topics have left the metadata (asynchronous)."""
    deadline = time.monotonic() + timeout
    while (left := tagged(endpoints, run))["topic"] and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


def test_registry_using_tests_leave_no_subject_topic_or_database(
    endpoints: dict[str, str], tmp_path: Path
) -> None:
    run = f"h{uuid.uuid4().hex[:5]}"
    subjects_before = len(list_subjects(endpoints["registry"]))
    assert tagged(endpoints, run) == {"subject": [], "topic": [], "database": []}

    removed = run_tests(SUBSET, run, tmp_path)

    # The run made (and removed) what its tests need: not a vacuous pass.
    assert removed["subject"] >= 10, removed
    assert removed["topic"] >= 8, removed
    assert removed["database"] >= 1, removed
    assert settled(endpoints, run) == {"subject": [], "topic": [], "database": []}
    print(  # noqa: T201 - the counts, for the log
        f"run {run}: removed {dict(removed)}; registry subjects {subjects_before} before, "
        f"{len(list_subjects(endpoints['registry']))} after (other users of the stack included)"
    )


def test_the_count_finds_what_a_run_leaves(endpoints: dict[str, str], tmp_path: Path) -> None:
    """With removal turned off, the same count finds the leftovers (then removed here)."""
    run = f"k{uuid.uuid4().hex[:5]}"
    run_tests(["tests/integration/test_stack_is_real.py"], run, tmp_path,
              IOTPIPE_TEST_KEEP_RESOURCES="1")  # fmt: skip
    left = settled(endpoints, run, timeout=0)
    cleanup = Scratch(endpoints)
    for name in left["subject"]:
        cleanup.subject(name)
    for name in left["topic"]:
        cleanup.adopt(name)
    cleanup.close()
    assert len(left["subject"]) == 1, left
    assert len(left["topic"]) == 1, left
    assert settled(endpoints, run) == {"subject": [], "topic": [], "database": []}
