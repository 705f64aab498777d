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
    "IotpipeError",
    "PrerequisiteMissing",
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
