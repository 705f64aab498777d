"""The generated reference pages of the docs site (``docs/reference/``): written by
``iotpipe codegen``, compared byte for byte by ``iotpipe codegen --check``.

The CLI page is not among them: the site's build writes it from the code each time
(``mkdocs_hooks.py``), so a change of a command's help needs no regenerating."""

from __future__ import annotations

import json
from pathlib import Path

from iotpipe.contract.catalog import Contract
from iotpipe.reference.history import schema_versions, versions
from iotpipe.reference.http_api import render_http_page
from iotpipe.reference.schemas import render_schemas_page, type_anchors

__all__ = ["PAGES", "render_pages", "stale_pages", "write_pages"]

PAGES = ("schemas.md", "http-api.md")


def render_pages(generated: Path, contract: Contract) -> dict[str, str]:
    """Each page's text, from the contract and a ``generated`` folder made from it."""
    examples = {
        t.fullname: (generated / "examples" / f"{t.fullname}.json").read_text()
        for t in contract.record_types
    }
    history = {name: versions(texts) for name, texts in schema_versions(contract).items()}
    openapi = json.loads((generated / "openapi.json").read_text())
    return {
        "schemas.md": render_schemas_page(contract, examples, history),
        "http-api.md": render_http_page(openapi, type_anchors(contract)),
    }


def write_pages(folder: Path, generated: Path, contract: Contract) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_pages(generated, contract).items():
        (folder / name).write_text(text)
        written.append(folder / name)
    return written


def stale_pages(folder: Path, generated: Path, contract: Contract) -> list[str]:
    """The pages in ``folder`` that differ from what ``generated`` and ``contract`` give."""
    stale = []
    for name, text in render_pages(generated, contract).items():
        page = folder / name
        if not page.exists():
            stale.append(f"{name} (missing)")
        elif page.read_bytes() != text.encode():
            stale.append(name)
    return stale
