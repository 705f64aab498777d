"""Which field breaks which reader: Avro schema resolution of two versions, both ways.

The registry is the gate, but it does not say why: Apicurio answers a compatibility check
with a bare ``is_compatible``, and its dry-run registration's causes read ``battery at
/fields/11`` or ``reader type: STRING not compatible with writer type: DOUBLE at
/fields/4/type``, from one of the two schemas, which one unsaid. This module applies the
resolution rules of the Avro specification (those of Java's ``SchemaCompatibility``, which
the registries run) to an old and a new version, with the new one as the reader of old
records (backward) and the old one as the reader of new records (forward), and names, for
each problem, the field, the rule it breaks and which readers it breaks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from iotpipe.reference.avro import PRIMITIVES, fullname, named_types, type_text

__all__ = ["Incompatibility", "directions", "incompatibilities", "is_transitive"]

Direction = Literal["backward", "forward"]
CONSEQUENCE: dict[Direction, str] = {
    "backward": "old records cannot be read by the new schema",
    "forward": "new records cannot be read by the old schema",
}
KINDS = PRIMITIVES | {"record", "enum", "fixed", "array", "map"}
# What a reader of the key type accepts besides its own type (the specification's promotions).
PROMOTIONS = {
    "long": {"int"},
    "float": {"int", "long"},
    "double": {"int", "long", "float"},
    "string": {"bytes"},
    "bytes": {"string"},
}


@dataclass(frozen=True)
class Incompatibility:
    """One reason a change is refused: the field (dotted path from the record, ``[]`` for
    an array's items, ``{}`` for a map's values; empty for the record itself), the rule
    it breaks, and a sentence for the person who made the change."""

    field: str
    rule: str  # added-without-default, renamed-without-alias, removed-without-default,
    # enum-symbol-removed, enum-symbol-added, type-changed
    message: str


def directions(level: str) -> tuple[Direction, ...]:
    """The readers a compatibility level protects: BACKWARD, FORWARD, FULL (both), NONE."""
    protects: dict[str, tuple[Direction, ...]] = {
        "BACKWARD": ("backward",),
        "FORWARD": ("forward",),
        "FULL": ("backward", "forward"),
    }
    return protects.get(level.upper().removesuffix("_TRANSITIVE"), ())


def is_transitive(level: str) -> bool:
    """Whether a level checks every registered version, or only the latest."""
    return level.upper().endswith("_TRANSITIVE")


def incompatibilities(old: Any, new: Any, level: str = "FULL") -> list[Incompatibility]:
    """What stops ``new`` replacing ``old`` under ``level`` (empty: compatible)."""
    found: dict[tuple[str, str, str], list[Direction]] = {}
    for direction in directions(level):
        reader, writer = (new, old) if direction == "backward" else (old, new)
        resolver = _Resolver(reader, writer, direction)
        resolver.resolve(_Node(reader, ""), _Node(writer, ""), ())
        for problem in resolver.problems:
            found.setdefault(problem, [])
            if direction not in found[problem]:
                found[problem].append(direction)
    return [
        Incompatibility(field, rule, f"{text}: {', nor '.join(_consequences(ways))}")
        for (field, rule, text), ways in found.items()
    ]


def _consequences(ways: list[Direction]) -> list[str]:
    if len(ways) > 1:
        return [CONSEQUENCE["backward"], "new records by the old schema"]
    return [CONSEQUENCE[ways[0]]]


@dataclass(frozen=True)
class _Node:
    """A schema as written (a name, a union list, a definition) and the namespace that
    names inside it resolve in."""

    schema: Any
    namespace: str


Problem = tuple[str, str, str]  # (field, rule, what changed)
Shown = tuple[_Node, _Node]  # (reader, writer) types a type change is reported with


class _Resolver:
    """Resolve a writer schema to a reader schema, collecting every problem by field."""

    def __init__(self, reader: Any, writer: Any, direction: Direction) -> None:
        self.direction = direction
        self.names = {
            "reader": {full: _Node(d, ns) for full, d, ns in named_types(reader)},
            "writer": {full: _Node(d, ns) for full, d, ns in named_types(writer)},
        }
        self.problems: list[Problem] = []
        self._open: set[tuple[str, str]] = set()  # record pairs being resolved (recursion)

    # -- the schemas' shapes ----------------------------------------------------------
    def _deref(self, node: _Node, side: str) -> _Node:
        schema = node.schema
        if isinstance(schema, str) and schema not in PRIMITIVES:
            return self.names[side].get(fullname(schema, node.namespace), node)
        if isinstance(schema, dict) and (
            isinstance(schema.get("type"), dict | list) or schema.get("type") not in KINDS
        ):  # {"type": <a type>}: the type itself
            return self._deref(_Node(schema["type"], node.namespace), side)
        return node

    @contextmanager
    def _trial(self) -> Iterator[list[Problem]]:
        """Collect problems apart (to try a union's branches) and restore afterwards."""
        kept, self.problems = self.problems, []
        trial = self.problems
        try:
            yield trial
        finally:
            self.problems = kept

    # -- resolution ---------------------------------------------------------------------
    def resolve(
        self, reader: _Node, writer: _Node, path: tuple[str, ...], shown: Shown | None = None
    ) -> None:
        """Resolve ``writer`` to ``reader`` at ``path``; ``shown`` is the pair of types a
        type change is reported with (the field's whole types, not a union's branch)."""
        shown = shown or (reader, writer)
        reader, writer = self._deref(reader, "reader"), self._deref(writer, "writer")
        r_kind, w_kind = _kind(reader), _kind(writer)
        if w_kind == "union":  # every branch the writer may have written must resolve
            for branch in writer.schema:
                self.resolve(reader, _Node(branch, writer.namespace), path, shown)
        elif r_kind == "union":
            self._into_union(reader, writer, path, shown)
        elif r_kind != w_kind:
            if w_kind not in PROMOTIONS.get(r_kind, set()):
                self._type_changed(shown, path)
        elif r_kind in ("record", "enum", "fixed"):
            if not _same_name(reader.schema, writer.schema, writer.namespace):
                self._type_changed(shown, path)
            elif r_kind == "record":
                self._record(reader, writer, path)
            elif r_kind == "enum":
                self._enum(reader, writer, path)
            elif reader.schema.get("size") != writer.schema.get("size"):
                self._type_changed(shown, path)
        elif r_kind == "array":
            self.resolve(*self._inner(reader, writer, "items"), (*path[:-1], f"{_last(path)}[]"))
        elif r_kind == "map":
            self.resolve(*self._inner(reader, writer, "values"), (*path[:-1], f"{_last(path)}{{}}"))

    @staticmethod
    def _inner(reader: _Node, writer: _Node, key: str) -> tuple[_Node, _Node]:
        return (
            _Node(reader.schema[key], reader.namespace),
            _Node(writer.schema[key], writer.namespace),
        )

    def _into_union(
        self, reader: _Node, writer: _Node, path: tuple[str, ...], shown: Shown
    ) -> None:
        """A reader union takes a writer's value if any branch does; if none does, explain
        through the branch of the writer's kind and name (the field inside a record that
        changed), else call the field's type changed."""
        alike = None
        for branch in reader.schema:
            node = self._deref(_Node(branch, reader.namespace), "reader")
            with self._trial() as trial:
                self.resolve(node, writer, path, shown)
            if not trial:
                return
            if alike is None and _alike(node, writer):
                alike = node
        if alike is not None:
            self.resolve(alike, writer, path, shown)
        else:
            self._type_changed(shown, path)

    def _record(self, reader: _Node, writer: _Node, path: tuple[str, ...]) -> None:
        pair = (str(reader.schema["name"]), str(writer.schema["name"]))
        if pair in self._open:
            return
        self._open.add(pair)
        written = {f["name"]: f for f in writer.schema.get("fields", [])}
        own_r = _own_namespace(reader)
        own_w = _own_namespace(writer)
        for index, field in enumerate(reader.schema.get("fields", [])):
            match = next(
                (written[n] for n in (field["name"], *field.get("aliases", ())) if n in written),
                None,
            )
            if match is not None:
                self.resolve(
                    _Node(field["type"], own_r), _Node(match["type"], own_w), (*path, field["name"])
                )
            elif "default" not in field:
                self._missing(field, index, reader, writer, path)
        self._open.discard(pair)

    def _missing(
        self,
        field: dict[str, Any],
        index: int,
        reader: _Node,
        writer: _Node,
        path: tuple[str, ...],
    ) -> None:
        """A reader's field that the writer's records lack, with no default to fill in:
        added (backward), removed (forward), or one side of a rename."""
        name = field["name"]
        if self.direction == "backward":  # reader = new, writer = old
            gone = _renamed_from(writer, reader, index)
            if gone is not None:
                text = f"field {_dotted(path, gone)!r} renamed to {name!r} without an alias"
                self.problems.append((_dotted(path, gone), "renamed-without-alias", text))
            else:
                text = f"field {_dotted(path, name)!r} added without a default"
                self.problems.append((_dotted(path, name), "added-without-default", text))
            return
        # forward: reader = old, writer = new
        successor = _renamed_to(reader, writer, name, index)
        what = f"renamed to {successor!r}" if successor else "removed"
        text = f"field {_dotted(path, name)!r} {what}, and the old schema gives it no default"
        self.problems.append((_dotted(path, name), "removed-without-default", text))

    def _enum(self, reader: _Node, writer: _Node, path: tuple[str, ...]) -> None:
        if "default" in reader.schema:
            return
        symbols = set(reader.schema.get("symbols", []))
        missing = [s for s in writer.schema.get("symbols", []) if s not in symbols]
        if not missing:
            return
        listed = ", ".join(missing)
        plural = "s" if len(missing) > 1 else ""
        where = f"enum {reader.schema['name']} of field {'.'.join(path)!r}"
        if self.direction == "backward":  # the new enum lost symbols old records hold
            text = f"{where} lost symbol{plural} {listed} and has no default"
            self.problems.append((".".join(path), "enum-symbol-removed", text))
        else:
            text = f"{where} gained symbol{plural} {listed}, and the old enum has no default"
            self.problems.append((".".join(path), "enum-symbol-added", text))

    def _type_changed(self, shown: Shown, path: tuple[str, ...]) -> None:
        reader, writer = shown
        old, new = (
            type_text(writer.schema, writer.namespace),
            type_text(reader.schema, reader.namespace),
        )
        if self.direction == "forward":  # the reader is the old schema
            old, new = new, old
        subject = f"field {'.'.join(path)!r}" if path else "the record"
        self.problems.append(
            (".".join(path), "type-changed", f"{subject} changed type from {old} to {new}")
        )


def _last(path: tuple[str, ...]) -> str:
    return path[-1] if path else ""


def _dotted(path: tuple[str, ...], name: str) -> str:
    return ".".join((*path, name))


def _own_namespace(node: _Node) -> str:
    name = str(node.schema["name"])
    if "." in name:
        return name.rpartition(".")[0]
    return str(node.schema.get("namespace", node.namespace))


def _same_name(reader: dict[str, Any], writer: dict[str, Any], writer_namespace: str) -> bool:
    """Java's rule: the unqualified names match, or the reader's aliases hold the writer's
    full name."""
    r_name = str(reader["name"]).rpartition(".")[2]
    w_name = str(writer["name"]).rpartition(".")[2]
    if r_name == w_name:
        return True
    writer_full = fullname(str(writer["name"]), str(writer.get("namespace", writer_namespace)))
    return writer_full in reader.get("aliases", ())


def _kind(node: _Node) -> str:
    schema = node.schema
    if isinstance(schema, list):
        return "union"
    if isinstance(schema, dict):
        return str(schema["type"])
    return str(schema)


def _alike(reader: _Node, writer: _Node) -> bool:
    """Same kind, and for named types the same name: the branch a change happened in."""
    if _kind(reader) != _kind(writer):
        return False
    if _kind(reader) in ("record", "enum", "fixed"):
        return bool(reader.schema["name"] == writer.schema["name"])
    return True


def _names(record: _Node) -> list[str]:
    return [f["name"] for f in record.schema.get("fields", [])]


def _renamed_from(old: _Node, new: _Node, index: int) -> str | None:
    """The old field that the new record's field at ``index`` replaced: the old field at
    the same position, if the new record has no field (or alias) of its name."""
    old_names = _names(old)
    if index >= len(old_names):
        return None
    known = {n for f in new.schema.get("fields", []) for n in (f["name"], *f.get("aliases", ()))}
    return old_names[index] if old_names[index] not in known else None


def _renamed_to(old: _Node, new: _Node, name: str, index: int) -> str | None:
    """The new field that took the old field ``name``'s place: one with ``name`` as an
    alias, or one at the same position that the old record did not have."""
    for field in new.schema.get("fields", []):
        if name in field.get("aliases", ()):
            return str(field["name"])
    new_names = _names(new)
    if index < len(new_names) and new_names[index] not in _names(old):
        return new_names[index]
    return None
