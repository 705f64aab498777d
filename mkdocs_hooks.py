"""Hooks of the docs site (``mkdocs.yml``, ``hooks:``).

- ``reference/cli.md`` is written from the Typer app at each build
  (:mod:`iotpipe.reference.cli`): the CLI's help changes often, and the page is always
  the code's. (The schemas and HTTP API pages are committed, written by
  ``iotpipe codegen`` and drift-checked with ``generated/``.)
- The integrator artifacts in ``generated/`` are published beside the reference pages
  that link them, instead of being copied into ``docs/``: ``reference/openapi.json`` and,
  under ``reference/contract/``, the AsyncAPI document, each record type's JSON Schema
  and example.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

from iotpipe.reference.cli import render_cli_page

GENERATED = Path(__file__).resolve().parent / "generated"


def published() -> dict[str, Path]:
    """Site path -> file in generated/."""
    files = {
        "reference/openapi.json": GENERATED / "openapi.json",
        "reference/contract/asyncapi.json": GENERATED / "asyncapi.json",
    }
    for folder in ("jsonschema", "examples"):
        for path in sorted((GENERATED / folder).glob("*.json")):
            files[f"reference/contract/{folder}/{path.name}"] = path
    return files


def on_files(files: Files, config: MkDocsConfig) -> Files:
    files.append(File.generated(config, "reference/cli.md", content=render_cli_page()))
    for uri, path in published().items():
        files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files
