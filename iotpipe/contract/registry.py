"""Register the contract in the schema registry, and check changes against it.

Speaks the Confluent-compatible REST API, so it works with Confluent Schema Registry,
Karapace and Apicurio's ``/apis/ccompat/v7``. A check asks the registry about each
registered version its compatibility level covers (every one for a ``*_TRANSITIVE``
level, else the latest) and runs :mod:`iotpipe.contract.compat` against the same
versions, which names the field and the rule: the registry answers with a bare yes or no
(Apicurio does). A change is refused if either refuses it; should the registry refuse
what compat finds nothing wrong with, its own causes (Apicurio's dry-run registration)
are reported, with the field they point at.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any, Literal
from urllib.parse import quote

import httpx

from iotpipe.contract.catalog import COMPATIBILITY, Contract
from iotpipe.contract.compat import Incompatibility, incompatibilities, is_transitive
from iotpipe.errors import ContractError, RegistryUnavailable

__all__ = ["CheckResult", "PushResult", "Refusal", "SchemaRegistry", "field_at"]

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
CCOMPAT_SUFFIX = "/apis/ccompat/v7"


@dataclass(frozen=True)
class PushResult:
    subject: str
    schema_id: int
    version: int
    compatibility: str


@dataclass(frozen=True)
class Refusal:
    """One reason a change is refused, and the registered versions it breaks (empty when
    only the registry's answer, which names no version, gave it)."""

    versions: tuple[int, ...]
    field: str
    rule: str
    message: str


@dataclass(frozen=True)
class CheckResult:
    subject: str
    status: Literal["compatible", "incompatible", "new"]
    level: str = ""
    against: tuple[int, ...] = ()  # the registered versions checked
    refusals: tuple[Refusal, ...] = ()

    @property
    def verdict(self) -> str:
        """``<subject>: compatible (FULL_TRANSITIVE against versions 1, 2)``, or new."""
        if self.status == "new":
            return f"{self.subject}: new subject (nothing registered to compare)"
        return f"{self.subject}: {self.status} ({self.level} against {_versions(self.against)})"

    @property
    def reasons(self) -> tuple[str, ...]:
        """One line per refusal: ``<subject>: refused (FULL_TRANSITIVE against version 1):
        field 'battery' added without a default: old records cannot ...``."""
        lines = []
        for refusal in self.refusals:
            against = f" against {_versions(refusal.versions)}" if refusal.versions else ""
            lines.append(f"{self.subject}: refused ({self.level}{against}): {refusal.message}")
        return tuple(lines)


class SchemaRegistry:
    """The contract's view of one registry (Confluent-compatible base URL)."""

    def __init__(self, url: str, *, http: httpx.Client | None = None, timeout: float = 10.0):
        self.url = url.rstrip("/")
        self._http = http or httpx.Client(timeout=timeout, headers={"Accept": CONTENT_TYPE})

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, body: Any = None, **params: str) -> httpx.Response:
        try:
            return self._http.request(
                method,
                f"{self.url}{path}",
                json=body,
                params=params or None,
                headers={"Content-Type": CONTENT_TYPE} if body is not None else None,
            )
        except httpx.HTTPError as exc:
            raise RegistryUnavailable(f"schema registry at {self.url} unreachable: {exc}") from exc

    def _ok(self, response: httpx.Response, what: str) -> Any:
        if response.status_code >= 500:
            raise RegistryUnavailable(f"{what}: registry answered {response.status_code}")
        if response.status_code >= 400:
            raise ContractError(f"{what}: {response.status_code} {_message(response)}")
        return response.json()

    def raw_get(self, path: str) -> Any:
        """GET a Confluent-API path; 404 raises ContractError, no answer RegistryUnavailable."""
        return self._ok(self._call("GET", path), f"GET {path}")

    def set_compatibility(self, subject: str, level: str = COMPATIBILITY) -> None:
        body = {"compatibility": level}
        self._ok(self._call("PUT", f"/config/{quote(subject, safe='')}", body), f"config {subject}")

    def compatibility(self, subject: str) -> str | None:
        response = self._call("GET", f"/config/{quote(subject, safe='')}")
        if response.status_code == 404:
            return None
        data = self._ok(response, f"config {subject}")
        level = data.get("compatibilityLevel") or data.get("compatibility")
        return str(level) if level else None

    def register(self, subject: str, schema_str: str) -> PushResult:
        path = f"/subjects/{quote(subject, safe='')}/versions"
        response = self._call("POST", path, {"schema": schema_str, "schemaType": "AVRO"})
        if response.status_code == 409:
            result = self.check(subject, schema_str)
            reasons = result.reasons or (_message(response),)
            raise ContractError(f"{subject} refused as incompatible:\n" + "\n".join(reasons))
        schema_id = int(self._ok(response, f"registering {subject}")["id"])
        found = self._ok(
            self._call("POST", f"/subjects/{quote(subject, safe='')}", {"schema": schema_str}),
            f"looking up {subject}",
        )
        return PushResult(
            subject, schema_id, int(found["version"]), self.compatibility(subject) or ""
        )

    def lookup(self, subject: str, schema_str: str) -> int | None:
        """The version under which ``subject`` holds ``schema_str`` (as the registry
        compares schemas), or None when it does not (or the subject does not exist)."""
        body = {"schema": schema_str, "schemaType": "AVRO"}
        response = self._call("POST", f"/subjects/{quote(subject, safe='')}", body)
        if response.status_code == 404:
            return None
        return int(self._ok(response, f"looking up {subject}")["version"])

    def exists(self, subject: str) -> bool:
        response = self._call("GET", f"/subjects/{quote(subject, safe='')}/versions")
        if response.status_code == 404:
            return False
        self._ok(response, f"versions of {subject}")
        return True

    def versions(self, subject: str) -> list[int]:
        """The subject's registered versions, oldest first (none if it does not exist)."""
        response = self._call("GET", f"/subjects/{quote(subject, safe='')}/versions")
        if response.status_code == 404:
            return []
        return sorted(int(v) for v in self._ok(response, f"versions of {subject}"))

    def schema(self, subject: str, version: int) -> Any:
        """The parsed schema registered as ``version`` of ``subject``."""
        path = f"/subjects/{quote(subject, safe='')}/versions/{version}"
        return json.loads(
            self._ok(self._call("GET", path), f"{subject} version {version}")["schema"]
        )

    def level(self, subject: str) -> str:
        """The compatibility level that applies to ``subject``: its own, else the global."""
        found = self.compatibility(subject)
        if found is None:
            data = self._ok(self._call("GET", "/config"), "global config")
            found = data.get("compatibilityLevel") or data.get("compatibility") or "BACKWARD"
        return str(found)

    def check(self, subject: str, schema_str: str) -> CheckResult:
        """Whether ``schema_str`` may become the subject's next version, and if not, why,
        against which versions. (Apicurio calls anything compatible with a subject that
        does not exist; the versions are read first, so a new subject is reported new.)"""
        versions = self.versions(subject)
        if not versions:
            return CheckResult(subject, "new")
        level = self.level(subject)
        new = json.loads(schema_str)
        covered = versions if is_transitive(level) else versions[-1:]
        found: dict[Incompatibility, list[int]] = {}
        refused_by_registry = []
        for version in covered:
            if not self._registry_accepts(subject, version, schema_str):
                refused_by_registry.append(version)
            for problem in incompatibilities(self.schema(subject, version), new, level):
                found.setdefault(problem, []).append(version)
        refusals = [Refusal(tuple(v), p.field, p.rule, p.message) for p, v in found.items()]
        if refused_by_registry and not refusals:
            refusals = [
                Refusal(tuple(refused_by_registry), field, "registry", message)
                for field, message in self._registry_reasons(subject, schema_str, new)
            ]
        status: Literal["compatible", "incompatible"] = "incompatible" if refusals else "compatible"
        return CheckResult(subject, status, level, tuple(covered), tuple(refusals))

    def _registry_accepts(self, subject: str, version: int, schema_str: str) -> bool:
        path = f"/compatibility/subjects/{quote(subject, safe='')}/versions/{version}"
        body = {"schema": schema_str, "schemaType": "AVRO"}
        data = self._ok(self._call("POST", path, body, verbose="true"), f"checking {subject}")
        return bool(data.get("is_compatible"))

    def _registry_reasons(self, subject: str, schema_str: str, new: Any) -> list[tuple[str, str]]:
        """The registry's own causes, each with the field of the new schema it points at;
        a bare "the registry refused it" if it gives none."""
        causes = self._dry_run_causes(subject, schema_str)
        if not causes:
            return [("", "the registry refused it without giving a reason")]
        reasons = []
        for description, context in causes:
            field = field_at(new, context)
            named = f" (field {field!r})" if field else ""
            reasons.append((field, f"the registry says: {description} at {context}{named}"))
        return reasons

    def _dry_run_causes(self, subject: str, schema_str: str) -> list[tuple[str, str]]:
        """Apicurio: validate a registration without making it, to read the rule's causes."""
        if not self.url.endswith(CCOMPAT_SUFFIX):
            return []
        native = self.url[: -len(CCOMPAT_SUFFIX)] + "/apis/registry/v3"
        body = {"content": {"content": schema_str, "contentType": "application/json"}}
        try:
            response = self._http.post(
                f"{native}/groups/default/artifacts/{quote(subject, safe='')}/versions",
                params={"dryRun": "true"},
                json=body,
                headers={"Accept": "application/json"},
            )
            causes = response.json().get("causes") or []
        except (httpx.HTTPError, ValueError, AttributeError):
            return []
        return [(str(c.get("description")), str(c.get("context"))) for c in causes]

    def delete_subject(self, subject: str) -> None:
        path = f"/subjects/{quote(subject, safe='')}"
        self._call("DELETE", path)
        self._call("DELETE", path, permanent="true")

    # -- whole contract ----------------------------------------------------------------
    def push(self, contract: Contract, *, prefix: str = "") -> list[PushResult]:
        """Set each subject's compatibility level, then register its schema (idempotent)."""
        results = []
        for record_type in contract.record_types:
            subject = prefix + record_type.subject
            self.set_compatibility(subject)
            results.append(self.register(subject, record_type.schema_str))
        return results

    def check_contract(self, contract: Contract, *, prefix: str = "") -> list[CheckResult]:
        """Check each record type; results name the real subject even under a prefix."""
        return [
            replace(self.check(prefix + t.subject, t.schema_str), subject=t.subject)
            for t in contract.record_types
        ]


def _versions(numbers: tuple[int, ...]) -> str:
    plural = "s" if len(numbers) > 1 else ""
    return f"version{plural} {', '.join(str(n) for n in numbers)}"


def field_at(schema: Any, context: str) -> str:
    """The dotted field a registry's context path (``/fields/8/type/1/fields/0/type``)
    points at in ``schema``: ``location.latitude``; empty if it points at none."""
    names: list[str] = []
    node = schema
    parts = [p for p in context.split("/") if p]
    for key, nxt in zip(parts, [*parts[1:], None], strict=True):
        try:
            if isinstance(node, list) and key.isdigit():
                node = node[int(key)]
            elif key == "fields" and nxt is not None and nxt.isdigit():
                continue
            elif key.isdigit() and isinstance(node, dict):
                node = node["fields"][int(key)]
                names.append(str(node["name"]))
            elif isinstance(node, dict):
                node = node[key]
            else:
                break
        except (KeyError, IndexError, TypeError):
            break
    return ".".join(names)


def _message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except json.JSONDecodeError:
        return response.text[:300]
    return str(data.get("message") or data.get("detail") or data)[:600]
