"""The JSON shapes ingest answers with, for responses and the OpenAPI document."""

from __future__ import annotations

from pydantic import BaseModel

__all__ = ["BatchAccepted", "ErrorItem", "Problem", "RecordAccepted", "ResultItem"]


class ErrorItem(BaseModel):
    """Why one record was refused: a code, a JSON pointer into the record, a message."""

    code: str
    pointer: str
    message: str


class ResultItem(BaseModel):
    """One record's fate in a batch: ``accepted``, ``rejected`` or ``failed`` (retry)."""

    index: int
    status: str
    event_id: str | None = None
    errors: list[ErrorItem] = []


class RecordAccepted(BaseModel):
    status: str = "accepted"
    event_id: str
    record_type: str


class BatchAccepted(BaseModel):
    accepted: int
    rejected: int
    results: list[ResultItem]


class Problem(BaseModel):
    """RFC 9457 problem details, with per-record results where the request had records."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[ErrorItem] = []
    results: list[ResultItem] = []
