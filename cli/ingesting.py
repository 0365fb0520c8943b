"""``kb ingest``, ``kb profile`` and ``kb reindex``: files into the knowledge base (through the server that owns
it when one runs), data profiling before that, and rebuilding the index from the record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.common import AsJson, Bar, echo_json, opened, server, settings
from core.errors import BadInput
from core.offline import apply_offline_env

if TYPE_CHECKING:
    from cli.client import ServerClient
    from ingest.pipeline import IngestReport
    from ingest.tickets import TicketMapping

app = typer.Typer()


def _through_server(client: ServerClient, paths: list[Path], prune: bool,
                    mapping: TicketMapping | None) -> IngestReport:
    """The same ingest as a job of the server: by path for the local owner (the server reads the same files,
    so sources keep their names), uploaded otherwise."""
    from ingest.pipeline import IngestReport
    from ingest.readers import discover

    data = {"prune": json.dumps(prune), "mapping": mapping.model_dump_json() if mapping else ""}
    if client.local:
        for p in paths:
            if not p.exists():
                raise BadInput(f"no such file or folder: {p}")
        data["paths"] = json.dumps([str(p.resolve()) for p in paths])
        job = client.upload("/v1/ingest", [], data)
    else:
        if prune:
            raise BadInput("--prune needs the folder on the server: ingest by path on the server's machine "
                           "(or under KB_INGEST_ROOTS)")
        files = [p for p in paths if p.is_file()] if mapping else discover(paths)
        missing = [p for p in paths if not p.exists()]
        if missing:
            raise BadInput(f"no such file or folder: {missing[0]}")
        job = client.upload("/v1/ingest", files, data)
    return IngestReport.model_validate(client.wait(job, "ingest"))


def _direct(paths: list[Path], prune: bool, user_dict: Path | None, mapping: TicketMapping | None) -> IngestReport:
    from ingest.readers import discover
    from service.disk import check_ingest_space, input_bytes

    config = settings(user_dict=user_dict)
    with opened(config, for_ingest=True) as kb:
        files = [p for p in paths if p.is_file()] if mapping else discover(paths)
        check_ingest_space(config, input_bytes(files), kb.embedder.dim)
        if mapping is not None:
            return kb.ingest_tickets(paths, mapping)
        return kb.ingest(paths, prune=prune, progress=Bar)


@app.command()
def ingest(
    paths: Annotated[
        list[Path], typer.Argument(help="Files or folders: FAQ (.jsonl, .csv), documents (.md, .txt, .html).")
    ],
    prune: Annotated[bool, typer.Option(help="Remove sources under the given folders that no longer exist.")] = False,
    user_dict: Annotated[Path | None, typer.Option(help="jieba user dictionary (product names, SKUs).")] = None,
    tickets: Annotated[bool, typer.Option("--tickets", help="The files are ticket exports (CSV/JSONL).")] = False,
    mapping: Annotated[Path | None, typer.Option(help="Ticket field mapping (YAML or TOML).")] = None,
    map_: Annotated[
        list[str] | None, typer.Option("--map", help="Ticket field mapping key=column, e.g. text=Body")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Ingest files into the knowledge base (incremental: unchanged files are skipped).

    Ticket exports (--tickets with --mapping FILE or --map key=column) are cleaned, PII-masked and kept;
    resolved tickets become answer candidates for review (`kb review`). With a server running for KB_HOME
    (or --server URL), the server ingests them as a job and this command shows its progress."""
    ticket_map = None
    if tickets or mapping or map_:
        from ingest.tickets import load_mapping

        ticket_map = load_mapping(mapping, map_ or [])
    client = server(settings())
    if client is not None:
        if user_dict is not None:
            raise BadInput("--user-dict changes the tokenizer: give it to the server (KB_USER_DICT when starting "
                           "`kb serve`), or stop the server and ingest directly")
        report = _through_server(client, paths, prune, ticket_map)
    else:
        report = _direct(paths, prune, user_dict, ticket_map)
    if as_json:
        echo_json(report.model_dump())
        return
    typer.echo(report.summary())
    for q in report.quarantined[:20]:
        typer.echo(f"  quarantined {q.source} {q.location}: {q.reason}", err=True)
    if len(report.quarantined) > 20:
        typer.echo(f"  ... and {len(report.quarantined) - 20} more (see quarantine.jsonl in KB_HOME)", err=True)


@app.command()
def profile(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to profile (nothing is written).")],
    out: Annotated[Path, typer.Option(help="Folder for profile.json and profile.html.")] = Path("kb-profile"),
    tickets: Annotated[bool, typer.Option("--tickets", help="The files are ticket exports.")] = False,
    mapping: Annotated[Path | None, typer.Option(help="Ticket field mapping (YAML or TOML).")] = None,
    map_: Annotated[list[str] | None, typer.Option("--map", help="Ticket field mapping key=column")] = None,
    as_json: AsJson = False,
) -> None:
    """Profile data before ingesting it: how dirty is it, what would be quarantined and why."""
    from ingest.profile import html_report, summary
    from ingest.profile import profile as run_profile
    from ingest.tickets import load_mapping

    apply_offline_env()
    ticket_map = load_mapping(mapping, map_ or []) if (tickets or mapping or map_) else None
    report = run_profile(paths, ticket_map)
    out.mkdir(parents=True, exist_ok=True)
    (out / "profile.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    (out / "profile.html").write_text(html_report(report), encoding="utf-8")
    if as_json:
        echo_json(report)
        return
    typer.echo(summary(report))
    typer.echo(f"wrote {out / 'profile.json'} and {out / 'profile.html'}")


@app.command()
def reindex() -> None:
    """Rebuild the index from the system of record (after a model or tokenizer change)."""
    config = settings()
    client = server(config)
    n: Any
    if client is not None:
        n = client.run_job("/v1/admin/reindex", {}, "reindex")["units"]
    else:
        with opened(config, allow_mismatch=True) as kb:
            n = kb.reindex(progress=Bar)
    typer.echo(f"reindexed {n} units")
