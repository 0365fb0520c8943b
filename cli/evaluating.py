"""``kb eval FILE`` (evaluate on a labelled file, the same code path as the API; as a job of the server when one
owns the knowledge base) and ``kb eval compare A B`` (fail on a quality drop)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from cli.common import Bar, opened, server, settings
from core.errors import BadInput


class _RunByDefault(TyperGroup):
    """``kb eval FILE ...`` is ``kb eval run FILE ...``: a first argument that names no subcommand runs ``run``."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().resolve_command(ctx, args)


app = typer.Typer(cls=_RunByDefault, no_args_is_help=True,
                  help="Evaluate on a labelled file (kb eval FILE), or compare two reports (kb eval compare A B).")


@app.command("run")
def run(
    eval_file: Annotated[Path, typer.Argument(help="JSONL with question, gold_ids ([] = should hand off), split.")],
    out: Annotated[Path | None, typer.Option(help="Folder for report.json, report.md, report.html.")] = None,
    split: Annotated[str, typer.Option(help="Only rows with this split ('' for all).")] = "test",
    ragas: Annotated[bool, typer.Option(help="Also run ragas' metrics that need no LLM.")] = True,
) -> None:
    """Evaluate the knowledge base on a labelled file (same code path as the API); `kb eval FILE` for short."""
    from eval.report import write_report
    from eval.run import evaluate, load_rows

    config = settings()
    rows = load_rows(eval_file, split or None)
    client = server(config)
    if client is not None:
        job = client.upload("/v1/admin/eval", [eval_file], {"params": json.dumps({"split": split, "ragas": ragas})})
        result = client.wait(job, "evaluating")
    else:
        with opened(config) as kb:
            bar = Bar(len(rows), "evaluating")
            result = evaluate(kb, rows, eval_file, progress=bar.update)
            bar.close()
            if ragas:
                from eval.ragas_metrics import ragas_scores

                result["metrics"]["ragas"] = ragas_scores(kb, result["records"])
    out_dir = out or Path("eval-report")
    for p in write_report(result, out_dir):
        typer.echo(f"wrote {p}")
    d = result["metrics"]["decisions"]
    typer.echo(f"decisions: coverage {d['coverage']}, precision {d['precision']}, "
               f"handoff recall {d['handoff_recall_unanswerable']}")


@app.command("compare")
def compare_reports(
    report_a: Annotated[Path, typer.Argument(help="The earlier report.json (or its folder).")],
    report_b: Annotated[Path, typer.Argument(help="The later report.json (or its folder).")],
    tolerance: Annotated[float, typer.Option(help="A drop larger than this fails.")] = 0.01,
) -> None:
    """Compare two reports: exits 1 when a quality metric of B dropped below A by more than --tolerance."""
    from eval.report import compare

    paths = [p / "report.json" if p.is_dir() else p for p in (report_a, report_b)]
    for p in paths:
        if not p.is_file():
            raise BadInput(f"no such report: {p}")
    before, after = (json.loads(p.read_text(encoding="utf-8")) for p in paths)
    changes, regressed = compare(before, after, tolerance=tolerance)
    for r in changes:
        typer.echo(f"{r['status']:>9}  {r['metric']:<45} {r['before']:.4f} -> {r['after']:.4f} ({r['delta']:+.4f})")
    if regressed:
        typer.echo(f"FAIL: at least one metric dropped by more than {tolerance}", err=True)
        raise typer.Exit(1)
    typer.echo("OK: no metric dropped by more than the tolerance")
