"""ingest never writes to MongoDB: it must not even import pymongo or the sink."""

from __future__ import annotations

import subprocess
import sys

from iotpipe.paths import REPO_DIR


def test_ingest_imports_neither_pymongo_nor_sink() -> None:
    code = (
        "import pkgutil, importlib, sys, ingest\n"
        "for m in pkgutil.walk_packages(ingest.__path__, 'ingest.'):\n"
        "    importlib.import_module(m.name)\n"
        "from ingest.main import build_app\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in {'pymongo', 'sink', 'bson'}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_DIR, check=True
    )
    assert done.stdout.strip() == "[]"
