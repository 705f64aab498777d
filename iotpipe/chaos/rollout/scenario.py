"""A schema change rolled out under load: ``rollout-ingest-first`` and ``rollout-sink-first``.

Three ingest replicas and three sink replicas run the code as it is (the old version).
Before they start, the new version is built for real (:mod:`.version`: a copy of the
code with ``battery_v`` added to SensorReading, ``iotpipe codegen`` run in it). While
readings stream at half of the measured peak, the new version is pushed to the registry
from the copy, then the replicas are restarted one at a time on it: every ingest replica
(out of the clients' rotation, its requests in flight finished, SIGTERM, the new one
started and checked to serve the field, into rotation), then every sink replica
(SIGTERM, its partitions taken over, the new one started in the group); or the sinks
first, then ingest. Between the two halves the pipeline runs mixed for a while. Clients
send the field only to replicas on the new version (:mod:`.clients`).

Once every reading is counted, :meth:`Rollout.account` counts per schema version
(:mod:`.accounting`), checks that the field was stored exactly where it was sent and the
DLQ is empty, and has the interop consumers, pinned to the old schema, read the whole
topic (:mod:`.consumers`).
"""

from __future__ import annotations

import random
import shutil
import time
from collections import Counter
from urllib.parse import quote

import httpx

from iotpipe.chaos.driver import reading
from iotpipe.chaos.fault import Fault, Plan, Scenario, wait_for
from iotpipe.chaos.ledger import Ledger
from iotpipe.chaos.pipeline import Pipeline, spread
from iotpipe.chaos.poison import dead_letters
from iotpipe.chaos.rollout.accounting import by_version, read_topic, stored_field
from iotpipe.chaos.rollout.clients import NEW, OLD, RolloutClients
from iotpipe.chaos.rollout.consumers import CONSUMERS, read_with
from iotpipe.chaos.rollout.version import FIELD, RECORD, build, runs_copy, serves_field
from iotpipe.chaos.targets import Targets
from iotpipe.chaos.verdict import Accounting
from iotpipe.contract.catalog import Contract
from iotpipe.contract.registry import SchemaRegistry
from iotpipe.interop import CommandFailed, ToolMissing
from iotpipe.stack.manager import Stack

__all__ = ["ROLLOUT_SCENARIOS", "Rollout"]

REPLICAS = 3  # ingest replicas, and sink replicas
SETTLE_S = 120.0  # for a group to settle, a replica to take requests


class Rollout:
    """The rollout scenarios' stage: the new version, the clients, the steps, the count."""

    def __init__(self, stack: Stack, pipeline: Pipeline, plan: Plan) -> None:
        self.stack, self.pipeline, self.plan = stack, pipeline, plan
        record = Contract.load().by_name(RECORD)
        self.fullname = record.fullname
        # The old schema as the run began: the old consumers' reader schema.
        self.old_schema = pipeline.workdir / "old-schema" / record.schema_file.name
        self.old_schema.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(record.schema_file, self.old_schema)
        self.version = build(pipeline.workdir / "new-version")
        self.clients: RolloutClients | None = None
        self.schema_ids: dict[str, int] = {}
        self.took: dict[str, float] = {}  # step -> seconds

    @property
    def subject(self) -> str:
        return f"{self.pipeline.topic}-{self.fullname}"

    def targets(self) -> Targets:
        self.clients = RolloutClients([i.url for i in self.pipeline.ingests])
        return self.clients

    def _clients(self) -> RolloutClients:
        if self.clients is None:
            raise RuntimeError("the rollout's clients are made with the driver")
        return self.clients

    # -- the steps, while readings stream ------------------------------------------------
    def roll(self, f: Fault, order: tuple[str, str]) -> dict[str, bool]:
        checks = {
            f"new version built: codegen in a copy, its models and codecs have {FIELD} "
            f"({self.version.build_s:.1f} s)": self.version.imports_copy,
        }
        f.strike()
        checks.update(self.push())
        for step, kind in enumerate(order):
            if step:
                time.sleep(self.plan.mixed)  # one half rolled, the other not
            began = time.monotonic()
            checks.update(self.roll_ingest() if kind == "ingest" else self.roll_sinks())
            self.took[kind] = time.monotonic() - began
        f.lift()
        return checks

    def push(self) -> dict[str, bool]:
        """``iotpipe schemas push`` from the copy: the registry takes the new version."""
        registry = SchemaRegistry(self.pipeline.endpoints["registry"])
        path = f"/subjects/{quote(self.subject, safe='')}/versions/latest"
        before = registry.raw_get(path)
        self.version.push(self.pipeline.topic, self.pipeline.endpoints["registry"])
        after = registry.raw_get(path)
        level = registry.compatibility(self.subject)
        self.schema_ids = {OLD: int(before["id"]), NEW: int(after["id"])}
        taken = after["version"] == before["version"] + 1 and FIELD in after["schema"]
        return {
            f"the registry took the new version ({level}): id {before['id']} -> {after['id']}, "
            f"version {after['version']}": taken and level == "FULL_TRANSITIVE",
        }

    def old_ingest_refuses(self) -> dict[str, bool]:
        """One reading with the field to an old ingest: 422 naming it (a client's error)."""
        replica = next(r for r in self._clients().in_rotation() if r.version == OLD)
        device, key = sorted(self.pipeline.keys.items())[0]
        body = {**reading(device, bad=False, rng=random.Random()), FIELD: 3.9}  # noqa: S311
        answer = httpx.post(
            f"{replica.url}/v1/readings",
            json=body,
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        return {
            f"an old ingest refuses a reading with {FIELD} ({answer.status_code}, naming it)": (
                answer.status_code == 422 and FIELD in answer.text
            )
        }

    def roll_ingest(self) -> dict[str, bool]:
        """Each old ingest replica: drained, stopped, replaced by one of the new version."""
        clients = self._clients()
        checks = self.old_ingest_refuses()
        old = [r for r in clients.in_rotation() if r.version == OLD]
        procs = {p.url: p for p in self.pipeline.ingests}
        for n, replica in enumerate(old, 1):
            drained = clients.drain(replica, 60)
            procs[replica.url].stop()
            proc = self.pipeline.start_ingest(code=self.version.root)
            knows = serves_field(proc.url)
            new = clients.add(proc.url, NEW if knows else OLD)
            took = wait_for(lambda: new.requests > 0, SETTLE_S, every=0.2)  # noqa: B023
            checks[
                f"ingest {n}/{len(old)}: drained, restarted on the new version (its "
                f"/openapi.json lists {FIELD}), taking requests"
            ] = drained and knows and took
        return checks

    def roll_sinks(self) -> dict[str, bool]:
        """Each old sink replica: stopped (it leaves the group), its partitions taken
        over, a new-version replica started in the group."""
        members = [s for s in self.pipeline.sinks if s.alive]
        checks, total = {}, len(members)
        for n, old in enumerate(list(members), 1):
            members.remove(old)
            old.stop()
            took_over = wait_for(lambda: spread(members), SETTLE_S, every=0.5)
            new = self.pipeline.new_sink(code=self.version.root).start()
            members.append(new)
            settled = wait_for(lambda: spread(members), SETTLE_S, every=0.5)
            pid = new.process.pid if new.process else None
            checks[
                f"sink {n}/{total}: stopped, its partitions "
                "taken over, restarted on the new version with partitions of its own"
            ] = took_over and settled and runs_copy(pid, self.version.root)
        return checks

    # -- once every reading is counted ---------------------------------------------------
    def account(self, ledger: Ledger, stored: Counter[str]) -> Accounting:
        endpoints, pipeline = self.pipeline.endpoints, self.pipeline
        topic = read_topic(endpoints["kafka"], endpoints["registry"], pipeline.topic, self.fullname)
        values = stored_field(
            endpoints["mongodb"],
            pipeline.database,
            FIELD,
            self.stack.state_dir / "mongodb" / "data",
        )
        acknowledged = ledger.ids("acknowledged")
        rows = by_version(
            schema_ids=self.schema_ids,
            acknowledged_by={e: v for e, v in ledger.acknowledged_by.items() if e in acknowledged},
            stored=stored,
            stored_values=values,
            topic=topic,
            sent_field=self._clients().sent_field,
            field_name=FIELD,
        )
        old, new = rows
        sent = sum(r["field_sent"] for r in rows)
        as_sent = sum(r["field_as_sent"] for r in rows)
        elsewhere = sum(r["field_where_not_sent"] for r in rows)
        other = sum(r["other_writer"] for r in rows)
        letters = dead_letters(endpoints["kafka"], pipeline.dlq_topic)
        steps = ", ".join(f"{kind} rolled in {s:.0f} s" for kind, s in self.took.items())
        accounting = Accounting(rows=rows, notes=[f"{steps}, mixed {self.plan.mixed:.0f} s"])
        accounting.checks = {
            f"readings acknowledged by both versions (old {old['acknowledged']:,}, new "
            f"{new['acknowledged']:,})": old["acknowledged"] > 0 and new["acknowledged"] > 0,
            f"every acknowledged reading in the topic under its ingest's writer schema id "
            f"({other:,} not)": other == 0,
            f"{FIELD} stored exactly where sent: {as_sent:,} of {sent:,} with the value sent": (
                sent > 0 and as_sent == sent
            ),
            f"{FIELD} stored nowhere it was not sent ({elsewhere:,} where not)": elsewhere == 0,
            f"DLQ empty ({sum(letters.values()):,} dead letters {dict(letters)})": not letters,
        }
        self._old_consumers(topic.records, accounting)
        return accounting

    def _old_consumers(self, records: list[tuple[str, int, float]], accounting: Accounting) -> None:
        """Every SensorReading record of the topic decoded by each interop consumer pinned
        to the old schema: the same (event_id, writer id, value), none with the field."""
        expected = Counter(records)
        per_id = Counter(schema_id for _, schema_id, _ in records)
        for language in CONSUMERS:
            label = f"{language} consumer pinned to the old schema decoded"
            try:
                run = read_with(
                    language,
                    kafka=self.pipeline.endpoints["kafka"],
                    registry=self.pipeline.endpoints["registry"],
                    topic=self.pipeline.topic,
                    count=len(records),
                    schema=self.old_schema,
                    field=FIELD,
                    summary=self.pipeline.workdir / f"old-consumer-{language}.json",
                )
            except ToolMissing as exc:
                accounting.notes.append(f"{language} consumer skipped: {exc}")
                continue
            except CommandFailed as exc:  # its error output's end says why
                accounting.checks[f"{label} the topic ({exc.why}: {exc.output[-200:]})"] = False
                continue
            except (OSError, ValueError, KeyError) as exc:  # a line it printed was not JSON
                accounting.checks[f"{label} the topic ({str(exc)[:200]})"] = False
                continue
            ids = ", ".join(f"id {i}: {n:,}" for i, n in sorted(per_id.items()))
            accounting.checks[
                f"{label} all {len(records):,} readings ({ids}) in {run.seconds:.0f} s, "
                f"as written, none with {FIELD}"
            ] = run.readings == expected and run.with_field == 0


def _rollout(f: Fault) -> Rollout:
    if not isinstance(f.stage, Rollout):
        raise TypeError("a rollout scenario runs with its Rollout stage")
    return f.stage


def rollout_ingest_first(f: Fault) -> dict[str, bool]:
    """A new optional field (battery_v) rolled out: the new schema pushed, the three
    ingest replicas restarted on the new version one at a time, then the three sinks.

    Between the halves, new ingest writes records old sinks read: an old sink must keep
    the field its schema lacks."""
    return _rollout(f).roll(f, ("ingest", "sinks"))


def rollout_sink_first(f: Fault) -> dict[str, bool]:
    """The same rollout in the other order: the three sinks first, then ingest.

    Between the halves, new sinks read only old records: the field at its default."""
    return _rollout(f).roll(f, ("sinks", "ingest"))


ROLLOUT_SCENARIOS: dict[str, Scenario] = {
    name: Scenario(
        run,
        ingest_replicas=REPLICAS,
        sinks=REPLICAS,
        ci=False,
        stage=Rollout,
    )
    for name, run in (
        ("rollout-ingest-first", rollout_ingest_first),
        ("rollout-sink-first", rollout_sink_first),
    )
}
