"""The contract: Avro schemas in ``schemas/`` and everything derived from them.

``catalog`` knows the record types, their subjects and topic; ``rules`` turns the value
rules declared in the .avsc files into constrained types; ``codegen`` generates the
committed code and published artifacts; ``registry`` pushes and checks schemas;
``serde`` builds the Avro serializers and deserializers every service uses.
"""

from iotpipe.contract.catalog import (
    COMPATIBILITY,
    RECORD_TYPE_HEADER,
    TOPIC,
    Contract,
    RecordType,
)

__all__ = ["COMPATIBILITY", "RECORD_TYPE_HEADER", "TOPIC", "Contract", "RecordType"]
