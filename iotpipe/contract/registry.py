"""Register the contract in the schema registry, and check changes against it.

Speaks the Confluent-compatible REST API, so it works with Confluent Schema Registry,
Karapace and Apicurio's ``/apis/ccompat/v7``. Where the registry answers a compatibility
check without reasons (Apicurio does), the reasons are fetched from Apicurio's own API
with a dry-run registration, so an incompatible change always says why.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any, Literal
from urllib.parse import quote

import httpx

from iotpipe.contract.catalog import COMPATIBILITY, Contract
from iotpipe.errors import ContractError, RegistryUnavailable

__all__ = ["CheckResult", "PushResult", "SchemaRegistry"]

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
CCOMPAT_SUFFIX = "/apis/ccompat/v7"


@dataclass(frozen=True)
class PushResult:
    subject: str
    schema_id: int
    version: int
    compatibility: str


@dataclass(frozen=True)
class CheckResult:
    subject: str
    status: Literal["compatible", "incompatible", "new"]
    reasons: tuple[str, ...] = ()


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
            reasons = self._dry_run_reasons(subject, schema_str) or [_message(response)]
            raise ContractError(f"{subject} refused as incompatible: " + "; ".join(reasons))
        schema_id = int(self._ok(response, f"registering {subject}")["id"])
        found = self._ok(
            self._call("POST", f"/subjects/{quote(subject, safe='')}", {"schema": schema_str}),
            f"looking up {subject}",
        )
        return PushResult(
            subject, schema_id, int(found["version"]), self.compatibility(subject) or ""
        )

    def exists(self, subject: str) -> bool:
        response = self._call("GET", f"/subjects/{quote(subject, safe='')}/versions")
        if response.status_code == 404:
            return False
        self._ok(response, f"versions of {subject}")
        return True

    def check(self, subject: str, schema_str: str) -> CheckResult:
        # Some registries (Apicurio) call anything compatible with a subject that does
        # not exist; ask first, so a new subject is reported as new.
        if not self.exists(subject):
            return CheckResult(subject, "new")
        path = f"/compatibility/subjects/{quote(subject, safe='')}/versions/latest"
        response = self._call(
            "POST", path, {"schema": schema_str, "schemaType": "AVRO"}, verbose="true"
        )
        if response.status_code == 404:
            return CheckResult(subject, "new")
        data = self._ok(response, f"checking {subject}")
        if data.get("is_compatible"):
            return CheckResult(subject, "compatible")
        reasons = [str(m) for m in data.get("messages") or []]
        reasons = reasons or self._dry_run_reasons(subject, schema_str)
        reasons = [_explain(reason, schema_str) for reason in reasons]
        return CheckResult(
            subject, "incompatible", tuple(reasons or ["the registry gave no reason"])
        )

    def _dry_run_reasons(self, subject: str, schema_str: str) -> list[str]:
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
        return [f"{c.get('description')} at {c.get('context')}" for c in causes]

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


def _explain(reason: str, schema_str: str) -> str:
    """Apicurio reports a new field without a default by its bare name; say what it means."""
    match = re.fullmatch(r"(\w+) at (/fields/\d+)", reason)
    if match is None:
        return reason
    fields = {f.get("name"): f for f in json.loads(schema_str).get("fields", [])}
    field = fields.get(match.group(1))
    if field is None or "default" in field:
        return reason
    return (
        f"field {match.group(1)!r} ({match.group(2)}) has no default: records written "
        "before it existed cannot be read with this schema; give it a default"
    )


def _message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except json.JSONDecodeError:
        return response.text[:300]
    return str(data.get("message") or data.get("detail") or data)[:600]
