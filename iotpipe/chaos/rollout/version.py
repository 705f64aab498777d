"""The rollout's new version: the code as it is, with one schema change, built for real.

The change is the one a team makes to ship a new optional field: ``battery_v`` added to
SensorReading (``["null", "double"]``, default null). It is written here as data (the
field's definition, appended to the record's fields) rather than as a diff of the
``.avsc`` text, so it applies whatever else the schema file holds; it is applied to a
copy of the code, never to ``schemas/``. The copy holds ``iotpipe``, ``ingest``,
``sink``, ``generated`` and ``schemas`` as iotpipe itself was imported from (a checkout's
working tree, or an installed wheel), and the cluster profile; ``iotpipe codegen`` run in
it writes its models, codecs and OpenAPI document for the new schema, and ``iotpipe
schemas push --topic`` from it registers the new version, which FULL_TRANSITIVE accepts
(an optional field with a default reads both ways). The new version's processes run
``python -m iotpipe`` with the copy as their folder and first on their path.
"""

from __future__ import annotations

import copy
import importlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from iotpipe.cluster import PROFILE_FILE, load_profile
from iotpipe.contract.catalog import Contract, schemas_dir
from iotpipe.errors import BuildFailed

__all__ = [
    "FIELD",
    "SCHEMA_CHANGE",
    "NewVersion",
    "build",
    "copy_env",
    "runs_copy",
    "serves_field",
    "with_field",
]

FIELD = "battery_v"
RECORD = "SensorReading"
SCHEMA_CHANGE: dict[str, Any] = {
    "name": FIELD,
    "type": ["null", "double"],
    "default": None,
    "doc": "Voltage of the device's battery when the reading was taken, in volts; null for "
    "a device on mains power or one that does not report it.",
    "rules": {"minimum": 0, "maximum": 60},
    "example": 3.71,
}
PACKAGES = ("iotpipe", "ingest", "sink", "generated")
# What a process of the new version imports, asked of the same interpreter, folder and path.
_PROBE = (
    "import json, generated.models as m, generated.codecs.sensor_reading as c; "
    f"print(json.dumps({{'models': m.__file__, 'model': {FIELD!r} in m.SensorReading.model_fields, "
    f"'codec': {FIELD!r} in c.SCHEMA}}))"
)


def with_field(schema: dict[str, Any], field: dict[str, Any] = SCHEMA_CHANGE) -> dict[str, Any]:
    """``schema`` with ``field`` appended to its fields (a new field goes last)."""
    if any(f["name"] == field["name"] for f in schema["fields"]):
        raise ValueError(f"{schema['name']} has a field {field['name']} already")
    changed = copy.deepcopy(schema)
    changed["fields"].append(copy.deepcopy(field))
    return changed


@dataclass(frozen=True)
class NewVersion:
    """The copy, built: where it is, its schema file, and what its build showed."""

    root: Path
    schema_file: Path
    build_s: float
    imports: dict[str, Any]  # what its interpreter imports: models' file, field in model/codec

    @property
    def imports_copy(self) -> bool:
        """Its processes import the copy's generated code, and that code has the field."""
        models = Path(str(self.imports.get("models", "")))
        return models.is_relative_to(self.root) and self.imports["model"] and self.imports["codec"]

    def push(self, topic: str, registry_url: str) -> None:
        """``iotpipe schemas push --topic`` from the copy: the new version registered (a
        refusal fails it: BuildFailed)."""
        _in_copy(self.root, "-m", "iotpipe", "schemas", "push", "--topic", topic,
                 "--registry-url", registry_url)  # fmt: skip


def build(root: Path) -> NewVersion:
    """Copy the code into ``root`` (emptied first), add the field to its schema, run
    ``iotpipe codegen`` there and ask its interpreter what it imports."""
    began = time.monotonic()
    shutil.rmtree(root, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__")
    for name in PACKAGES:
        package = Path(str(importlib.import_module(name).__file__)).parent
        shutil.copytree(package, root / name, ignore=ignore)
    shutil.copytree(schemas_dir(), root / "schemas", ignore=ignore)
    (root / "compose").mkdir()
    shutil.copy2(load_profile().source, root / "compose" / PROFILE_FILE)
    schema_file = Contract.load(root / "schemas").by_name(RECORD).schema_file
    changed = with_field(json.loads(schema_file.read_text()))
    schema_file.write_text(json.dumps(changed, indent=2, ensure_ascii=False) + "\n")
    _in_copy(root, "-m", "iotpipe", "codegen")
    imports = json.loads(_in_copy(root, "-c", _PROBE))
    return NewVersion(root, schema_file, time.monotonic() - began, imports)


def copy_env(root: Path) -> dict[str, str]:
    """The environment of a process of the copy: the copy first on its path."""
    path = os.pathsep.join(filter(None, [str(root), os.getenv("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def _in_copy(root: Path, *args: str, timeout: float = 300) -> str:
    """``python args`` in the copy, as its processes run; its standard output."""
    done = subprocess.run(
        [sys.executable, *args],
        cwd=root,
        env=copy_env(root),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise BuildFailed(f"python {' '.join(args)[:80]} in {root}: {done.stderr.strip()}")
    return done.stdout


def serves_field(ingest_url: str) -> bool:
    """Whether the ingest at ``ingest_url`` knows the field: its own OpenAPI document
    (built from the models it imported) lists it among the properties of SensorReading
    and of every variant of it (SensorReadingRequest: as clients send it)."""
    try:
        components = httpx.get(f"{ingest_url}/openapi.json", timeout=30).json()["components"]
        readings = [v for k, v in components["schemas"].items() if k.startswith(RECORD)]
        return bool(readings) and all(FIELD in v["properties"] for v in readings)
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return False


def runs_copy(pid: int | None, root: Path) -> bool:
    """Whether process ``pid`` runs in ``root`` with it first on its path (Linux's /proc)."""
    if pid is None:
        return False
    try:
        cwd = Path(f"/proc/{pid}/cwd").resolve()
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    path = next((e.split(b"=", 1)[1] for e in environ if e.startswith(b"PYTHONPATH=")), b"")
    return cwd == root.resolve() and path.decode().split(os.pathsep)[0] == str(root)
