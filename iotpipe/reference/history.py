"""Each record type's versions, read from the schemas' git history, and what changed.

A version is a distinct text of a record type's schema as ``iotpipe schemas push``
registers it (:func:`~iotpipe.contract.catalog.canonical_json`: docs, rules and examples
included; whitespace not), in the order the commits that touch ``schemas/`` made them,
then the working tree's if it differs from the last. Only the schemas' content counts,
never a commit's id or date, so the page built from it is the same before and after the
commit that makes a new version (and after a rebase).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iotpipe.contract.catalog import Contract, canonical_json
from iotpipe.errors import ConfigError
from iotpipe.reference.avro import fullname, named_types, type_text

__all__ = ["Version", "changes", "schema_versions", "versions"]


@dataclass(frozen=True)
class Version:
    number: int
    schema: dict[str, Any]
    changes: tuple[str, ...]  # from the version before (the first: what it holds)


def _git(top: Path, *args: str, stdin: bytes | None = None) -> bytes:
    done = subprocess.run(
        ["git", "-C", str(top), *args], input=stdin, capture_output=True, check=False
    )
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()
        raise ConfigError(f"git {' '.join(args)} failed: {message}")
    return done.stdout


def _repository(folder: Path) -> Path:
    probe = subprocess.run(
        ["git", "-C", str(folder), "rev-parse", "--show-toplevel", "--is-shallow-repository"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        raise ConfigError(
            f"{folder} is not in a git checkout: the schema reference's history is read from "
            "git (run iotpipe codegen in a clone of the repository)"
        )
    top, shallow = probe.stdout.split()
    if shallow == "true":
        raise ConfigError(
            "this clone is shallow: the schema reference's history needs the schemas' whole "
            "git history (git fetch --unshallow)"
        )
    return Path(top)


def _blobs(top: Path, oids: list[str]) -> dict[str, bytes]:
    """The contents of ``oids``, read by one ``git cat-file --batch``."""
    if not oids:
        return {}
    out = _git(top, "cat-file", "--batch", stdin="".join(f"{o}\n" for o in oids).encode())
    contents, pos = {}, 0
    for oid in oids:
        end = out.index(b"\n", pos)
        size = int(out[pos:end].split()[2])
        contents[oid] = out[end + 1 : end + 1 + size]
        pos = end + 1 + size + 1
    return contents


def _committed(top: Path, folder: str) -> list[list[bytes]]:
    """The .avsc texts in ``folder`` at each commit that touched it, oldest first."""
    commits = _git(top, "log", "--reverse", "--format=%H", "--", folder).decode().split()
    trees: list[list[str]] = []
    for sha in commits:
        listing = _git(top, "ls-tree", sha, f"{folder}/").decode().splitlines()
        entries = sorted(line.split("\t", 1) for line in listing)
        trees.append([meta.split()[2] for meta, path in entries if path.endswith(".avsc")])
    contents = _blobs(top, sorted({oid for tree in trees for oid in tree}))
    return [[contents[oid] for oid in tree] for tree in trees]


def schema_versions(contract: Contract) -> dict[str, list[dict[str, Any]]]:
    """Each record type's distinct schemas (full name -> oldest first, the current last)."""
    folder = contract.record_types[0].schema_file.parent.resolve()
    top = _repository(folder)
    texts: dict[str, list[dict[str, Any]]] = {}

    def add(schema: Any) -> None:
        if not (isinstance(schema, dict) and schema.get("type") == "record"):
            return  # a broken file in some commit: no version of anything
        seen = texts.setdefault(fullname(schema["name"], schema.get("namespace", "")), [])
        if not seen or canonical_json(seen[-1]) != canonical_json(schema):
            seen.append(schema)

    for files in _committed(top, folder.relative_to(top.resolve()).as_posix()):
        for text in files:
            try:
                add(json.loads(text))
            except json.JSONDecodeError:
                continue
    for record_type in contract.record_types:
        add(record_type.schema)
    return {t.fullname: texts[t.fullname] for t in contract.record_types}


def versions(history: list[dict[str, Any]]) -> list[Version]:
    out = []
    for number, schema in enumerate(history, start=1):
        if number == 1:
            described: list[str] = [_first(schema)]
        else:
            described = changes(history[number - 2], schema) or [
                "the same schema written differently (the order of its attributes)"
            ]
        out.append(Version(number, schema, tuple(described)))
    return out


def _first(schema: dict[str, Any]) -> str:
    types = named_types(schema)
    fields = sum(len(d.get("fields", [])) for _, d, _ in types)
    return f"first version: {fields} fields in {len(types)} named types"


def _short(full: str) -> str:
    return full.rpartition(".")[2]


def changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What changed from ``old`` to ``new``, one sentence per change."""
    before = {full: (d, ns) for full, d, ns in named_types(old)}
    after = {full: (d, ns) for full, d, ns in named_types(new)}
    out = [f"{after[f][0]['type']} `{_short(f)}` added" for f in after if f not in before]
    out += [f"{before[f][0]['type']} `{_short(f)}` removed" for f in before if f not in after]
    for full in (f for f in after if f in before):
        (was, ns_was), (now, ns_now) = before[full], after[full]
        name = _short(full)
        if was["type"] != now["type"]:
            out.append(f"`{name}` was a {was['type']}, is now a {now['type']}")
            continue
        if was.get("doc") != now.get("doc"):
            out.append(f"`{name}`: description changed")
        if was.get("aliases") != now.get("aliases"):
            out.append(f"`{name}`: aliases {was.get('aliases')} → {now.get('aliases')}")
        if now["type"] == "record":
            out += _field_changes(name, was, ns_was, now, ns_now)
        elif now["type"] == "enum":
            out += _enum_changes(name, was, now)
        elif was.get("size") != now.get("size"):
            out.append(f"`{name}`: size {was.get('size')} → {now.get('size')} bytes")
    return out


def _default(field: dict[str, Any]) -> str:
    return f"default {json.dumps(field['default'])}" if "default" in field else "no default"


def _field_changes(
    name: str, was: dict[str, Any], ns_was: str, now: dict[str, Any], ns_now: str
) -> list[str]:
    old = {f["name"]: f for f in was["fields"]}
    new = {f["name"]: f for f in now["fields"]}
    out = []
    for key, field in new.items():
        where = f"`{name}.{key}`"
        if key not in old:
            out.append(f"{where} added: {type_text(field['type'], ns_now)}, {_default(field)}")
            continue
        prior = old[key]
        t_was, t_now = type_text(prior["type"], ns_was), type_text(field["type"], ns_now)
        if t_was != t_now:
            out.append(f"{where}: type {t_was} → {t_now}")
        if ("default" in prior, prior.get("default")) != ("default" in field, field.get("default")):
            out.append(f"{where}: {_default(prior)} → {_default(field)}")
        for attribute, label in (("doc", "description"), ("example", "example")):
            if prior.get(attribute) != field.get(attribute):
                out.append(f"{where}: {label} changed")
        if prior.get("rules") != field.get("rules"):
            rules = (json.dumps(prior.get("rules")), json.dumps(field.get("rules")))
            out.append(f"{where}: rules {rules[0]} → {rules[1]}")
        if prior.get("aliases") != field.get("aliases"):
            out.append(f"{where}: aliases {prior.get('aliases')} → {field.get('aliases')}")
    out += [f"`{name}.{key}` removed" for key in old if key not in new]
    if [k for k in new if k in old] != [k for k in old if k in new]:
        out.append(f"`{name}`: fields reordered")
    return out


def _enum_changes(name: str, was: dict[str, Any], now: dict[str, Any]) -> list[str]:
    out = []
    added = [s for s in now["symbols"] if s not in was["symbols"]]
    removed = [s for s in was["symbols"] if s not in now["symbols"]]
    if added:
        out.append(f"`{name}`: symbols added: " + ", ".join(f"`{s}`" for s in added))
    if removed:
        out.append(f"`{name}`: symbols removed: " + ", ".join(f"`{s}`" for s in removed))
    if was.get("default") != now.get("default"):
        out.append(f"`{name}`: reader default {was.get('default')} → {now.get('default')}")
    return out
