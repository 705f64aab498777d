"""Job errors, under ingest's one root; ``ingest.errors`` maps the request ones to HTTP."""

from __future__ import annotations

from ingest.domain.errors import IngestError, NotFound, Unavailable

__all__ = [
    "JobError",
    "JobNotFound",
    "JobStateError",
    "JobsUnavailable",
    "PublishFailed",
    "SourceError",
    "StoreError",
]


class JobError(IngestError):
    """Root of what can go wrong with a job (only ``JobNotFound`` reaches a client)."""

    title = "job error"


class JobNotFound(NotFound):
    """No job with that id (404)."""


class JobStateError(JobError):
    """A state change the state machine does not allow: a bug, never a client's fault."""


class SourceError(JobError):
    """The source API failed; ``retryable`` says whether trying again may help."""

    def __init__(self, detail: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retryable = retryable
        self.retry_after = retry_after


class PublishFailed(JobError):
    """Kafka did not acknowledge some readings, even after retries: the job fails."""


class StoreError(Unavailable):
    """The job store (the jobs topic) could not be read or written (503 to a client)."""

    def __init__(self, detail: str, *, retry_after: int = 5) -> None:
        super().__init__(detail, retry_after=retry_after)


class JobsUnavailable(Unavailable):
    """Jobs cannot be taken now (state not loaded, or several worker processes): 503."""

    def __init__(self, detail: str, *, retry_after: int = 5) -> None:
        super().__init__(detail, retry_after=retry_after)
