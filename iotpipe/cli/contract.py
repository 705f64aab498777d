"""``iotpipe codegen`` and ``iotpipe schemas push | check``: the contract's commands."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from iotpipe.cli.options import RegistryUrl
from iotpipe.contract.baseline import contract_at
from iotpipe.contract.catalog import TOPIC, Contract, schemas_dir
from iotpipe.contract.codegen import check as codegen_check
from iotpipe.contract.codegen import generate, write_reference
from iotpipe.contract.registry import CheckResult, SchemaRegistry
from iotpipe.endpoints import EndpointSettings, resolve_endpoints
from iotpipe.paths import REPO_DIR
from iotpipe.terminal import make_console

__all__ = ["codegen", "schemas_app"]

out = make_console()
err = make_console(stderr=True)
schemas_app = typer.Typer(
    help="Register the Avro contract in the schema registry and check changes against it.",
    no_args_is_help=True,
)


def _registry(url: str | None) -> SchemaRegistry:
    return SchemaRegistry(url or resolve_endpoints(EndpointSettings()).registry)


def codegen(
    check: Annotated[
        bool, typer.Option("--check", help="Fail, naming the files, if generated/ is stale.")
    ] = False,
    output: Annotated[Path, typer.Option(help="The generated/ folder to write or check.")] = (
        REPO_DIR / "generated"
    ),
    docs: Annotated[
        Path | None,
        typer.Option(
            help="The docs site's reference folder to write or check (default: "
            "docs/reference/ of the checkout; outside a checkout, none)."
        ),
    ] = None,
) -> None:
    """Generate models, JSON Schemas, examples, AsyncAPI and OpenAPI from schemas/*.avsc and
    ingest's code, and the docs site's reference pages of the schemas and the HTTP API."""
    contract = Contract.load()
    if docs is None and (REPO_DIR / "mkdocs.yml").exists():
        docs = REPO_DIR / "docs" / "reference"
    if check:
        stale = codegen_check(output, contract, docs)
        if stale:
            err.print(
                f"[red]generated/ or the reference pages are stale[/] ({len(stale)} files); "
                "run `iotpipe codegen`:"
            )
            for name in stale:
                err.print(f"  {escape(name)}")
            raise typer.Exit(1)
        what = "generated/ and the reference pages are" if docs else "generated/ is"
        err.print(f"{what} up to date with {len(contract.record_types)} schemas")
        return
    files = generate(output, contract)
    err.print(f"wrote {len(files)} files under {output}")
    if docs is not None:
        pages = write_reference(docs, output, contract)
        err.print(f"wrote {len(pages)} reference pages under {docs}")


@schemas_app.command()
def push(
    registry_url: RegistryUrl = None,
    topic: Annotated[
        str,
        typer.Option(
            help="The topic whose subjects (<topic>-<namespace.Name>) to register under "
            "(default: sensor-data); a pipeline on a topic of its own, e.g. iotpipe chaos's.",
            show_default=False,
        ),
    ] = TOPIC,
) -> None:
    """Register every subject of the contract and set its compatibility level."""
    registry = _registry(registry_url)
    for result in registry.push(Contract.load().on_topic(topic)):
        out.print(
            f"{result.subject}: id {result.schema_id}, version {result.version}, "
            f"{result.compatibility}"
        )


def _print(results: list[CheckResult]) -> bool:
    """One line per subject, or per reason a subject refuses the change."""
    for result in results:
        if result.status == "incompatible":
            for reason in result.reasons:
                out.print(f"[red]{escape(reason)}[/]", soft_wrap=True)
        else:
            colour = "green" if result.status == "compatible" else "default"
            out.print(f"[{colour}]{escape(result.verdict)}[/]", soft_wrap=True)
    return all(result.status != "incompatible" for result in results)


@schemas_app.command()
def check(
    registry_url: RegistryUrl = None,
    schemas: Annotated[
        Path | None,
        typer.Option(
            help="The folder of .avsc files to check (default: schemas/ of the checkout).",
            show_default=False,
        ),
    ] = None,
    against: Annotated[
        str | None,
        typer.Option(
            help="Check against the schemas of this git revision (e.g. HEAD~1), registered "
            "first under throwaway subjects, instead of what the registry holds.",
        ),
    ] = None,
) -> None:
    """Check the working tree's schemas against every registered version their subject's
    compatibility level covers (FULL_TRANSITIVE: all of them), by the registry and by Avro's
    resolution rules; a refusal names the field and the rule. Exit 1 if any is refused."""
    registry = _registry(registry_url)
    folder = schemas or schemas_dir()
    current = Contract.load(folder)
    if against is None:
        ok = _print(registry.check_contract(current))
    else:
        with contract_at(against, folder) as (sha, baseline):
            if baseline is None:
                err.print(f"{against} ({sha[:12]}) has no schemas: nothing to compare")
                return
            prefix = f"baseline-{sha[:12]}-{uuid.uuid4().hex[:6]}."
            registry.push(baseline, prefix=prefix)
            try:
                err.print(f"against {against} ({sha[:12]}):")
                ok = _print(registry.check_contract(current, prefix=prefix))
            finally:
                for record_type in baseline.record_types:
                    registry.delete_subject(prefix + record_type.subject)
    if not ok:
        raise typer.Exit(1)
