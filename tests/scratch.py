"""What a test makes on the shared local stack (topics, schema subjects, consumer groups,
databases), named so it can be found and removed at teardown.

A long-lived stack otherwise keeps every test's leftovers: thousands of subjects in the
registry, hundreds of ``it-*`` topics and databases. A test asks a :class:`Scratch` (the
``scratch`` and ``module_scratch`` fixtures) for its names and resources; ``close()``
removes them. A topic a scratch made or adopted owns its *family*: the topic, every topic
named after it (``T.dlq``, ``T-jobs``, ``T-devices``...), every schema subject
``T-<record>`` and every consumer group named after it, whoever made them (the sink, a
jobs store, ``iotpipe schemas push --topic`` in a child process). Subjects go soft, then
hard (the Confluent API: ``DELETE /subjects/S``, then ``?permanent=true``).

Every name carries the session's run tag (``IOTPIPE_TEST_RUN``, random if unset), so a
run's leftovers can be counted (tests/integration/test_hygiene.py). With
``IOTPIPE_TEST_KEEP_RESOURCES=1`` nothing is removed (to look at a failed test's data);
with ``IOTPIPE_TEST_LEDGER=<file>`` each removal is logged there as a JSON line.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from pymongo import MongoClient

from iotpipe.contract.catalog import Contract
from iotpipe.contract.registry import PushResult, SchemaRegistry

__all__ = ["RUN", "Scratch", "list_subjects", "run_pattern"]

RUN = os.environ.get("IOTPIPE_TEST_RUN") or f"t{uuid.uuid4().hex[:5]}"
KEEP = os.environ.get("IOTPIPE_TEST_KEEP_RESOURCES") == "1"
_ALL = "100000"  # the registry's list limit (Apicurio's default is 1,000)


def run_pattern(run: str = RUN) -> re.Pattern[str]:
    """Matches a name made by a scratch of run ``run``."""
    return re.compile(rf"[-_]{re.escape(run)}[-_]")


def list_subjects(registry: str, *, deleted: bool = True) -> list[str]:
    """Every subject of the registry (with the soft-deleted ones unless ``deleted`` is
    False): the Confluent API's list, asked for all of them."""
    params = {"limit": _ALL, **({"deleted": "true"} if deleted else {})}
    response = httpx.get(f"{registry.rstrip('/')}/subjects", params=params, timeout=30)
    response.raise_for_status()
    return [str(s) for s in response.json()]


class Scratch:
    """Names and resources of one test (or module): all removed by :meth:`close`."""

    def __init__(self, endpoints: Mapping[str, str]) -> None:
        self.endpoints = dict(endpoints)
        self._families: list[str] = []
        self._subjects: set[str] = set()
        self._databases: set[str] = set()
        self._admin: AdminClient | None = None

    @property
    def admin(self) -> AdminClient:
        if self._admin is None:
            self._admin = AdminClient({"bootstrap.servers": self.endpoints["kafka"]})
        return self._admin

    # -- names ---------------------------------------------------------------------
    def name(self, prefix: str, sep: str = "-") -> str:
        """``<prefix>-<run>-<random>``: unique, and found again by the run's tag."""
        return f"{prefix}{sep}{RUN}{sep}{uuid.uuid4().hex[:8]}"

    def topic_name(self, prefix: str) -> str:
        """A topic name whose family (see the module) this scratch removes; the topic
        itself is not made (the code under test makes it, or nobody does)."""
        return self.adopt(self.name(prefix))

    def adopt(self, topic: str) -> str:
        """Remove ``topic``'s family at the end, whoever made it."""
        if topic not in self._families:
            self._families.append(topic)
        return topic

    # -- making --------------------------------------------------------------------
    def topic(
        self,
        prefix: str,
        *,
        partitions: int = 1,
        config: Mapping[str, str] | None = None,
        dlq: bool = False,
        push: bool = False,
    ) -> str:
        """A new topic (and ``<topic>.dlq`` with ``dlq``, the contract registered under
        its subjects with ``push``); its family is removed at the end."""
        name = self.topic_name(prefix)
        self.make_topics([name, f"{name}.dlq"] if dlq else [name], partitions, config)
        if push:
            self.push(name)
        return name

    def make_topics(
        self, names: Iterable[str], partitions: int = 1, config: Mapping[str, str] | None = None
    ) -> None:
        new = [
            NewTopic(n, num_partitions=partitions, replication_factor=1, config=dict(config or {}))
            for n in names
        ]
        for future in self.admin.create_topics(new).values():
            future.result(30)

    def push(self, topic: str, contract: Contract | None = None) -> list[PushResult]:
        """Register ``contract`` (the project's) under ``topic``'s subjects."""
        self.adopt(topic)
        on_topic = (contract or Contract.load()).on_topic(topic)
        self._subjects.update(t.subject for t in on_topic.record_types)
        registry = SchemaRegistry(self.endpoints["registry"])
        try:
            return registry.push(on_topic)
        finally:
            registry.close()

    def subject(self, name: str) -> str:
        """A subject registered by the test itself, removed at the end."""
        self._subjects.add(name)
        return name

    def database(self, prefix: str) -> str:
        """A database name (``<prefix>_<run>_<random>``) dropped at the end."""
        name = self.name(prefix, "_")
        self._databases.add(name)
        return name

    # -- removing ------------------------------------------------------------------
    def close(self) -> None:
        """Remove everything; an error names what could not be removed."""
        if KEEP:
            return
        removed: list[tuple[str, str]] = []
        removed += self._remove_subjects()
        removed += self._remove_topics_and_groups()
        removed += self._drop_databases()
        _log(removed)

    def _in_family(self, name: str, *, separators: str = ".-") -> bool:
        return any(
            name == f or (name.startswith(f) and name[len(f)] in separators) for f in self._families
        )

    def _remove_subjects(self) -> list[tuple[str, str]]:
        if not self._subjects and not self._families:
            return []
        registry = self.endpoints["registry"].rstrip("/")
        doomed = sorted(
            s
            for s in list_subjects(registry)
            if s in self._subjects or any(s.startswith(f"{f}-") for f in self._families)
        )
        with httpx.Client(timeout=30) as http:
            for subject in doomed:
                url = f"{registry}/subjects/{quote(subject, safe='')}"
                soft = http.delete(url)  # 404: soft-deleted already
                hard = http.delete(url, params={"permanent": "true"})
                if soft.status_code >= 500 or hard.status_code not in {200, 404}:
                    raise AssertionError(
                        f"subject {subject} not deleted: {soft.status_code} then "
                        f"{hard.status_code} {hard.text[:200]}"
                    )
        return [("subject", s) for s in doomed]

    def _remove_topics_and_groups(self) -> list[tuple[str, str]]:
        if not self._families:
            return []
        topics = sorted(t for t in self.admin.list_topics(timeout=15).topics if self._in_family(t))
        if topics:
            for future in self.admin.delete_topics(topics, operation_timeout=30).values():
                future.result(30)
        groups = sorted(
            g.group_id
            for g in self.admin.list_consumer_groups().result(15).valid
            if self._in_family(g.group_id)
        )
        gone = []
        for group, future in (self.admin.delete_consumer_groups(groups) if groups else {}).items():
            # A group with a member still leaving is refused; it expires by itself later.
            if future.exception(15) is None:
                gone.append(group)
        return [("topic", t) for t in topics] + [("group", g) for g in gone]

    def _drop_databases(self) -> list[tuple[str, str]]:
        if not self._databases:
            return []
        client: MongoClient[dict[str, Any]] = MongoClient(
            self.endpoints["mongodb"], serverSelectionTimeoutMS=10000
        )
        try:
            existing = set(client.list_database_names())
            dropped = sorted(self._databases & existing)
            for name in dropped:
                client.drop_database(name)
        finally:
            client.close()
        return [("database", d) for d in dropped]


def _log(removed: list[tuple[str, str]]) -> None:
    ledger = os.environ.get("IOTPIPE_TEST_LEDGER")
    if not ledger or not removed:
        return
    with Path(ledger).open("a", encoding="utf-8") as out:
        for kind, name in removed:
            out.write(json.dumps({"kind": kind, "name": name}) + "\n")
