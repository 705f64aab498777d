"""The one exception root of iotpipe.

Everything iotpipe raises on purpose derives from :class:`IotpipeError`, carries a message
written for the person at the terminal, and an exit code. The command line prints the
message (no traceback) and exits with that code; third-party errors are wrapped at the
boundary with ``raise ... from exc`` so the cause stays available with ``--debug``.
"""

from __future__ import annotations

__all__ = [
    "BuildFailed",
    "ConfigError",
    "ContractError",
    "DecodeError",
    "IotpipeError",
    "KafkaAdminError",
    "KafkaUnavailable",
    "PrerequisiteMissing",
    "RegistryUnavailable",
    "ServiceFailed",
    "StackError",
]


class IotpipeError(Exception):
    """Root of every error iotpipe raises on purpose."""

    exit_code: int = 1


class ConfigError(IotpipeError):
    """A setting, flag or environment variable has a value iotpipe cannot use."""

    exit_code = 2


class PrerequisiteMissing(IotpipeError):
    """A tool the local stack needs (Java 21+, Maven, Go) is not installed."""

    exit_code = 2


class StackError(IotpipeError):
    """The local stack cannot do what was asked (e.g. a port is taken)."""


class BuildFailed(StackError):
    """Downloading or building a service of the local stack failed."""


class ServiceFailed(StackError):
    """A service of the local stack exited or never became ready."""


class ContractError(IotpipeError):
    """The contract (schemas, registry subjects, encoded records) is not as it must be."""


class RegistryUnavailable(ContractError):
    """The schema registry did not answer; a retry later may succeed."""

    def __init__(self, message: str, *, retry_after: float = 5.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DecodeError(ContractError):
    """A Kafka record cannot be decoded against the contract (a dead letter, not a retry)."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class KafkaAdminError(IotpipeError):
    """Kafka cannot do an administrative request as asked (topics, partitions, configs)."""


class KafkaUnavailable(KafkaAdminError):
    """No Kafka broker answered in time; a retry later may succeed."""
