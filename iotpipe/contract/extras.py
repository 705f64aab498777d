"""A newer writer's fields that today's schema lacks, carried into the decoded record.

Avro schema resolution drops a writer field the reader does not know. For a sink that is
loss: while a schema change rolls out, an old sink would store the records of new
producers without the new field. So when a writer schema has fields the reader lacks,
the record is decoded a second time with the writer schema alone, and those fields'
values are carried as the writer wrote them (timestamps as datetimes, enums as strings,
records as dicts, unions unwrapped: what fastavro reads) in a subclass of today's model
that declares them (typed ``Any``: an old reader knows no rules for them). Today's fields
still go through resolution and the model's validation. The subclass has today's model's
name and is one (``isinstance``), so the record lands in the same collection; its
``__dict__`` holds the carried fields after today's, so ``to_document`` stores them at the
top level under their own names, as a sink that knows the field stores it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, create_model

from iotpipe.errors import DecodeError

__all__ = ["carrying", "unknown_fields"]


def unknown_fields(writer: Mapping[str, Any], reader: Mapping[str, Any]) -> tuple[str, ...]:
    """The writer record's field names that no reader field has as its name or alias, in
    the writer's order."""
    known = set()
    for field in reader.get("fields", ()):
        known.add(field["name"])
        known.update(field.get("aliases", ()))
    return tuple(f["name"] for f in writer.get("fields", ()) if f["name"] not in known)


def carrying(model: type[BaseModel], names: Sequence[str]) -> type[BaseModel]:
    """``model``, or a subclass of it with the fields ``names`` it lacks (``Any``, default
    None). A name a Pydantic model cannot hold as a field (a leading underscore: a private
    attribute; or a name of the model's own attributes and methods) is a DecodeError: a
    dead letter, kept byte for byte until a sink that knows the field re-drives it."""
    fields = [n for n in names if n not in model.model_fields]
    if not fields:
        return model
    clashing = [n for n in fields if n.startswith("_") or hasattr(model, n)]
    if clashing:
        raise DecodeError(
            f"the writer schema has fields {clashing} that {model.__name__} lacks and cannot "
            "carry (a leading underscore or the name of a model attribute); a sink generated "
            "from the newer schema reads them",
            reason="schema-mismatch",
        )
    definitions: dict[str, Any] = {n: (Any, None) for n in fields}
    return create_model(
        model.__name__,
        __base__=model,
        __module__=model.__module__,
        __doc__=f"{model.__name__} with a newer writer's fields {', '.join(fields)}.",
        **definitions,
    )
