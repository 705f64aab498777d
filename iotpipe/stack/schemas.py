"""The contract registered in the local stack's registry, as ``iotpipe schemas push`` does.

``stack up`` does it so that every command works on a stack it brought up: ingest looks
schema ids up and never registers (before a push it answers 503). A subject that already
holds the contract's schema, at the contract's compatibility level, is left as it is, so a
second ``stack up`` writes nothing. A schema the registry refuses (a working tree whose
change breaks a registered version) is reported, not forced: ``iotpipe schemas check``
says why.
"""

from __future__ import annotations

from iotpipe.contract.catalog import COMPATIBILITY, Contract
from iotpipe.contract.registry import SchemaRegistry
from iotpipe.errors import ContractError, RegistryUnavailable

__all__ = ["register_contract"]


def register_contract(registry: SchemaRegistry, contract: Contract | None = None) -> list[str]:
    """Register each record type under its subject of the default topic; the lines say
    what was done, one per subject."""
    contract = contract or Contract.load()
    lines = []
    try:
        for record_type in contract.record_types:
            subject = record_type.subject
            try:
                version = registry.lookup(subject, record_type.schema_str)
                if version is not None and registry.compatibility(subject) == COMPATIBILITY:
                    lines.append(f"{subject}: already registered (version {version})")
                    continue
                registry.set_compatibility(subject)
                pushed = registry.register(subject, record_type.schema_str)
            except RegistryUnavailable:
                raise
            except ContractError as exc:
                first = str(exc).splitlines()[0].rstrip(":")
                lines.append(f"not registered: {first}; `iotpipe schemas check` says why")
                continue
            lines.append(
                f"{subject}: registered as version {pushed.version} (id {pushed.schema_id}), "
                f"{pushed.compatibility}"
            )
    except RegistryUnavailable as exc:
        lines.append(f"not registered: {exc}")
    return lines
