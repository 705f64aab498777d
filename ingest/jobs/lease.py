"""Who owns a job: the claim rule every replica applies to the jobs topic, in log order.

Kafka has no compare-and-set, but the jobs topic has one partition, so every replica
reads the same records in the same order. Each record carries the job's ``epoch``; the
owner writes at its epoch, and taking a job over (its owner's lease ran out, or a
cancel from another replica) is a *claim*: a record at the next epoch. Folding the log
with :func:`supersedes` gives every reader the same answer:

* a record at a higher epoch than the job's is a claim, and the first one wins;
* a record at the job's epoch counts only if it comes from the owner of that epoch, so a
  second claim of the same epoch (a replica that lost the race) is ignored, and so is
  anything a replica writes after it was superseded (a paused owner waking up);
* a finished job is final.

A claimer writes its claim, reads the log up to its end (which now holds the claim) and
runs the job only if the fold says it owns it: of two replicas that saw the same expired
lease, exactly one finds itself the owner.
"""

from __future__ import annotations

from datetime import datetime

from ingest.jobs.model import Job

__all__ = ["expired", "supersedes"]


def supersedes(current: Job | None, record: Job) -> bool:
    """Whether ``record``, read after ``current`` (the job's state so far), becomes the
    job's state."""
    if current is None:
        return True
    if current.finished:
        return False
    if record.epoch > current.epoch:
        return True
    return record.epoch == current.epoch and record.owner == current.owner


def expired(job: Job, now: datetime, lease_seconds: float) -> bool:
    """The owner has not written for longer than the lease: it is presumed dead."""
    last = job.heartbeat_at or job.updated_at
    return (now - last).total_seconds() > lease_seconds
