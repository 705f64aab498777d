"""The reference pages: complete (every field, every operation, every command), their
links resolve, and ``iotpipe codegen --check`` fails when a committed page is stale."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import typer

from iotpipe.cli import app
from iotpipe.contract.catalog import Contract
from iotpipe.paths import REPO_DIR
from iotpipe.reference.avro import named_types
from iotpipe.reference.cli import render_cli_page
from iotpipe.reference.markdown import cell, prose
from iotpipe.reference.pages import PAGES
from tests.support import run_cli

REFERENCE = REPO_DIR / "docs/reference"


def sections(page: str) -> dict[str, str]:
    """Level-2 heading text -> what follows it up to the next level-2 heading."""
    parts = re.split(r"^## (.+)$", page, flags=re.MULTILINE)
    return {parts[i].split(" {#")[0]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_schemas_page_mentions_every_field_of_every_schema() -> None:
    page = sections((REFERENCE / "schemas.md").read_text())
    for record_type in Contract.load().record_types:
        section = page[record_type.name]
        for _, definition, _ in named_types(record_type.schema):
            for field in definition.get("fields", []):
                assert f"| `{field['name']}` |" in section, (record_type.name, field["name"])
            for symbol in definition.get("symbols", []):
                assert f"`{symbol}`" in section, (record_type.name, symbol)
        assert record_type.subject in section
        example = (REPO_DIR / f"generated/examples/{record_type.fullname}.json").read_text()
        assert example.strip() in section
        assert "**Version 1**" in section


def test_http_page_lists_every_operation_and_links_to_existing_headings() -> None:
    openapi = json.loads((REPO_DIR / "generated/openapi.json").read_text())
    page = (REFERENCE / "http-api.md").read_text()
    for path, operations in openapi["paths"].items():
        for method in operations:
            assert f"### `{method.upper()} {path}`" in page
    ids = {
        name: set(re.findall(r"\{#([a-z0-9-]+)\}", (REFERENCE / name).read_text()))
        for name in PAGES
    }
    links = re.findall(r"\]\(((?:schemas\.md)?)#([a-z0-9-]+)\)", page)
    assert len(links) > 20
    for target, heading in links:
        assert heading in ids[target or "http-api.md"], (target, heading)


def _commands(command: Any, path: str) -> list[tuple[str, Any]]:
    found = [(path, command)]
    for name, sub in getattr(command, "commands", {}).items():
        found += _commands(sub, f"{path} {name}")
    return found


def test_cli_page_names_every_command_and_option() -> None:
    page = render_cli_page()
    commands = _commands(typer.main.get_command(app), "iotpipe")
    assert len(commands) > 30
    for path, command in commands[1:]:
        assert f"`{path}`\n" in page, path
        for param in command.params:
            for flag in getattr(param, "opts", []):
                if flag.startswith("-"):
                    assert f"`{flag}" in page or f", {flag}" in page, (path, flag)
    assert str(REPO_DIR) not in page
    assert str(Path.home()) not in page


def test_text_from_the_code_is_escaped_outside_code_spans() -> None:
    assert prose("kafka-<id> & `a<b>`") == "kafka-&lt;id&gt; &amp; `a<b>`"
    assert cell("one | two\nthree") == "one \\| two three"


@pytest.mark.timeout(180)
def test_codegen_check_fails_on_a_stale_or_missing_page(tmp_path: Path) -> None:
    copy = tmp_path / "reference"
    shutil.copytree(REFERENCE, copy)
    schemas = copy / "schemas.md"
    schemas.write_text(schemas.read_text().replace("| `device_id` |", "| `device` |", 1))
    (copy / "http-api.md").unlink()
    result = run_cli("codegen", "--check", "--docs", str(copy), timeout=170)
    assert result.returncode == 1
    assert "reference/schemas.md\n" in result.stderr
    assert "reference/http-api.md (missing)" in result.stderr
