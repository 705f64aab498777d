"""The source port, and its adapter for an openSenseMap-compatible HTTP API (httpx).

Each call is one attempt: the adapter only classifies failures (timeouts, connection
errors, 5xx and 429 may pass; other answers will not), and the runner decides how often
to retry. Paths and parameters are openSenseMap's: ``GET /boxes/{boxId}`` and
``GET /boxes/{boxId}/data/{sensorId}?from-date=&to-date=&format=json`` (both bounds
inclusive, at most 10,000 rows, newest first).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

import httpx

from ingest.jobs.errors import SourceError
from ingest.jobs.model import iso
from iotpipe import __version__

__all__ = ["MeasurementSource", "OsemSource"]


class MeasurementSource(Protocol):
    """Where a job reads from (real: OsemSource; tests: the same over a fake transport)."""

    async def box(self, box_id: str) -> dict[str, Any]: ...

    async def measurements(
        self, box_id: str, sensor_id: str, start: datetime, end: datetime
    ) -> list[Any]: ...

    async def close(self) -> None: ...


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])[:200]
    return response.text[:200]


class OsemSource:
    """One source API; ``transport`` lets tests serve it without a network."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": f"iotpipe/{__version__}"},
        )

    async def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        where = f"GET {self.base_url}{path}"
        try:
            response = await self._client.get(path, params=params)
        except httpx.TimeoutException as exc:
            raise SourceError(f"{where}: timed out", retryable=True) from exc
        except httpx.TransportError as exc:
            raise SourceError(f"{where}: {type(exc).__name__} {exc}", retryable=True) from exc
        status = response.status_code
        if status == 429 or status >= 500:
            raise SourceError(
                f"{where}: HTTP {status} {_message(response)}".rstrip(),
                retryable=True,
                retry_after=_retry_after(response),
            )
        if status != 200:
            raise SourceError(f"{where}: HTTP {status} {_message(response)}", retryable=False)
        try:
            return response.json()
        except ValueError as exc:  # a cut-off body: the next try may get it whole
            raise SourceError(f"{where}: the answer is not JSON", retryable=True) from exc

    async def box(self, box_id: str) -> dict[str, Any]:
        body = await self._get(f"/boxes/{box_id}")
        if not isinstance(body, dict):
            raise SourceError(f"GET /boxes/{box_id}: expected a box object", retryable=False)
        return body

    async def measurements(
        self, box_id: str, sensor_id: str, start: datetime, end: datetime
    ) -> list[Any]:
        path = f"/boxes/{box_id}/data/{sensor_id}"
        params = {"from-date": iso(start), "to-date": iso(end), "format": "json"}
        body = await self._get(path, params)
        if not isinstance(body, list):
            raise SourceError(f"GET {path}: expected a JSON array of rows", retryable=False)
        return body

    async def close(self) -> None:
        await self._client.aclose()
