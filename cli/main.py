"""The ``kb`` command. Output for people by default, ``--json`` for scripts; errors become a message on
stderr and a non-zero exit code (see ``core.errors`` for the codes)."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from core.errors import BadInput, KBError
from core.offline import apply_offline_env
from core.settings import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="supportkb: a support knowledge base that answers.")


def _settings(**overrides: Any) -> Settings:
    apply_offline_env()
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def _open(settings: Settings, allow_mismatch: bool = False, for_ingest: bool = False) -> Any:
    from api.service import KnowledgeBase

    return KnowledgeBase.open(settings, allow_mismatch=allow_mismatch, for_ingest=for_ingest)


class _Bar:
    def __init__(self, total: int, desc: str) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=total, desc=desc, unit="unit", file=sys.stderr, leave=False,
                         disable=not sys.stderr.isatty())

    def update(self, n: int = 1) -> None:
        self._bar.update(n)

    def close(self) -> None:
        self._bar.close()


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _parse_filters(items: list[str] | None) -> Any:
    from core.models import Filters

    if not items:
        return None
    values: dict[str, list[str]] = {}
    for item in items:
        if "=" not in item:
            raise BadInput(f"filter must be key=value, got {item!r}")
        key, value = item.split("=", 1)
        if key not in Filters.model_fields:
            raise BadInput(f"unknown filter {key!r}; use one of {', '.join(Filters.model_fields)}")
        values.setdefault(key, []).extend(v for v in value.split(",") if v)
    return Filters.model_validate(values)


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
    resolved tickets become answer candidates for review (`kb candidates`)."""
    kb = _open(_settings(user_dict=user_dict), for_ingest=True)
    try:
        if tickets or mapping or map_:
            from ingest.tickets import load_mapping

            report = kb.ingest_tickets(paths, load_mapping(mapping, map_ or []))
        else:
            report = kb.ingest(paths, prune=prune, progress=_Bar)
    finally:
        kb.close()
    if as_json:
        _echo_json(report.model_dump())
        return
    typer.echo(report.summary())
    for q in report.quarantined[:20]:
        typer.echo(f"  quarantined {q.source} {q.location}: {q.reason}", err=True)
    if len(report.quarantined) > 20:
        typer.echo(f"  ... and {len(report.quarantined) - 20} more (see quarantine.jsonl in KB_HOME)", err=True)


@app.command()
def search(
    query: str,
    top_k: Annotated[int, typer.Option("--top-k", "-k")] = 5,
    filter_: Annotated[list[str] | None, typer.Option("--filter", "-f", help="key=value, e.g. lang=zh")] = None,
    mode: Annotated[str, typer.Option(help="hybrid, dense or bm25")] = "hybrid",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Search the knowledge base."""
    kb = _open(_settings())
    try:
        hits = kb.search(query, top_k, _parse_filters(filter_), mode=mode)
    finally:
        kb.close()
    if as_json:
        _echo_json([h.model_dump(exclude={"features"}) for h in hits])
        return
    for i, h in enumerate(hits, 1):
        label = h.entry_id or f"{h.doc_id} [{h.section or ''}]"
        head = h.question or h.title or ""
        typer.echo(f"{i}. {h.score:.3f}  {label}  {head}")
        typer.echo(f"   {h.text[:160].replace(chr(10), ' ')}")


@app.command()
def ask(
    question: str,
    filter_: Annotated[list[str] | None, typer.Option("--filter", "-f")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Ask a question: an answer with citations, or a hand-off."""
    from api.schemas import AskRequest

    kb = _open(_settings())
    try:
        response = kb.ask(AskRequest(question=question, filters=_parse_filters(filter_)))
    finally:
        kb.close()
    if as_json:
        _echo_json(response.model_dump())
        return
    typer.echo(f"decision: {response.decision}  confidence: {response.confidence:.2f}")
    if response.answer:
        typer.echo(response.answer)
    for c in response.citations:
        typer.echo(f"  [{c.entry_id or c.doc_id}] {c.source}")
    for r in response.related:
        typer.echo(f"  related: {r.question} ({r.entry_id or r.doc_id})")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    workers: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Start the HTTP API (OpenAPI docs at /docs)."""
    import os

    import uvicorn

    settings = _settings(host=host, port=port, workers=workers)
    os.environ["KB_HOME"] = str(settings.home)
    uvicorn.run("api.asgi:app_factory", factory=True, host=settings.host, port=settings.port,
                workers=settings.workers, log_level="info")


@app.command()
def profile(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to profile (nothing is written).")],
    out: Annotated[Path, typer.Option(help="Folder for profile.json and profile.html.")] = Path("kb-profile"),
    tickets: Annotated[bool, typer.Option("--tickets", help="The files are ticket exports.")] = False,
    mapping: Annotated[Path | None, typer.Option(help="Ticket field mapping (YAML or TOML).")] = None,
    map_: Annotated[list[str] | None, typer.Option("--map", help="Ticket field mapping key=column")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
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
        _echo_json(report)
        return
    typer.echo(summary(report))
    typer.echo(f"wrote {out / 'profile.json'} and {out / 'profile.html'}")


review_app = typer.Typer(no_args_is_help=False, help="Review learned knowledge: candidates and flagged entries.")
app.add_typer(review_app, name="review")

Editor = Annotated[str, typer.Option("--by", help="Who is reviewing (recorded in the history); default $USER.")]


def _editor(name: str) -> str:
    import os

    editor = name or os.environ.get("USER") or ""
    if not editor:
        raise BadInput("say who is reviewing: --by NAME")
    return editor


def _print_candidate(c: Any) -> None:
    typer.echo(f"{c.count:>4}x  {c.id}  [{c.status}; {c.source}; team {c.team or '-'}; "
               f"answers agree {c.consistency:.0%}]")
    typer.echo(f"       Q: {c.question[:100]}")
    for ex in [e for e in c.examples if e != c.question][:3]:
        typer.echo(f"          also: {ex[:100]}")
    typer.echo(f"       A: {c.answer[:160]}")
    for other in c.answers[1:3]:
        typer.echo(f"          other answer: {other[:120]}")


@review_app.callback(invoke_without_command=True)
def review(
    ctx: typer.Context,
    status: Annotated[str, typer.Option(help="Candidates with this status: review, approved, merged, "
                                             "rejected, promoted, or all.")] = "review",
    limit: Annotated[int, typer.Option()] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List candidates (from agents' resolutions and tickets) and flagged entries, with their evidence.

    Then: kb review approve|edit|merge|reject ID, kb review dismiss|history|rollback ENTRY."""
    if ctx.invoked_subcommand is not None:
        return
    kb = _open(_settings())
    try:
        cands = kb.curator.candidates(None if status == "all" else status, limit)
        flagged = kb.curator.flagged()
    finally:
        kb.close()
    if as_json:
        _echo_json({"candidates": [c.model_dump() for c in cands], "flagged": [f.model_dump() for f in flagged]})
        return
    typer.echo(f"{len(cands)} candidate(s) with status {status}:" if cands else f"no candidates with status {status}")
    for c in cands:
        _print_candidate(c)
    typer.echo(f"{len(flagged)} flagged entr{'y' if len(flagged) == 1 else 'ies'}" + (":" if flagged else ""))
    for f in flagged:
        typer.echo(f"{f.negative:>4}x not helpful  {f.entry_id}  Q: {f.question[:80]}")
        for q in f.demoted_for[:3]:
            typer.echo(f"       demoted for: {q[:100]}")
        for comment in f.comments[:2]:
            typer.echo(f"       comment: {comment[:100]}")


def _act(target: str, action: str, editor: str, **kw: Any) -> None:
    """Apply a review action to a candidate or (if no candidate has that id) an entry; print the result."""
    kb = _open(_settings())
    try:
        if kb.store.get_candidate(target) is not None:
            if action == "retire":
                action = "reject"
            out: Any = kb.curator.act_on_candidate(target, action, _editor(editor), kw.get("question"),
                                                   kw.get("answer"), kw.get("into"), kw.get("note"))
        else:
            if action == "reject":
                action = "retire"
            out = kb.curator.act_on_entry(target, action, _editor(editor), kw.get("question"), kw.get("answer"),
                                          kw.get("into"), kw.get("version"), kw.get("note"))
    finally:
        kb.close()
    if kw.get("as_json"):
        _echo_json(out.model_dump())
    elif hasattr(out, "count"):
        typer.echo(f"candidate {out.id}: {out.status}" + (f" -> entry {out.entry_id}" if out.entry_id else ""))
    else:
        last = out.versions[-1] if out.versions else None
        typer.echo(f"entry {out.id}: {out.status}" + (f", v{last.version} ({last.provenance} by {last.actor})"
                                                       if last else ""))


Question = Annotated[str | None, typer.Option(help="New question text.")]
AnswerText = Annotated[str | None, typer.Option("--answer", help="New answer text.")]
Note = Annotated[str | None, typer.Option(help="Why (kept in the history).")]
AsJson = Annotated[bool, typer.Option("--json")]


@review_app.command("approve")
def review_approve(candidate: str, by: Editor = "", question: Question = None, answer: AnswerText = None,
                   as_json: AsJson = False) -> None:
    """A candidate becomes a live entry (optionally with edited question/answer)."""
    _act(candidate, "approve", by, question=question, answer=answer, as_json=as_json)


@review_app.command("edit")
def review_edit(target: str, by: Editor = "", question: Question = None, answer: AnswerText = None,
                note: Note = None, as_json: AsJson = False) -> None:
    """Edit a candidate, or an entry (a new version; a flagged entry goes live again)."""
    _act(target, "edit", by, question=question, answer=answer, note=note, as_json=as_json)


@review_app.command("merge")
def review_merge(target: str, into: str, by: Editor = "", as_json: AsJson = False) -> None:
    """Merge a candidate into another candidate or an entry, or an entry into another entry."""
    _act(target, "merge", by, into=into, as_json=as_json)


@review_app.command("reject")
def review_reject(target: str, by: Editor = "", note: Note = None, as_json: AsJson = False) -> None:
    """Reject a candidate, or retire an entry from the live index (a rollback restores it)."""
    _act(target, "reject", by, note=note, as_json=as_json)


@review_app.command("dismiss")
def review_dismiss(entry: str, by: Editor = "", note: Note = None, as_json: AsJson = False) -> None:
    """A flagged entry was right: end its demotions."""
    _act(entry, "dismiss", by, note=note, as_json=as_json)


@review_app.command("rollback")
def review_rollback(entry: str, version: int, by: Editor = "", note: Note = None, as_json: AsJson = False) -> None:
    """Restore an entry to an earlier version (as a new version)."""
    _act(entry, "rollback", by, version=version, note=note, as_json=as_json)


@review_app.command("history")
def review_history(entry: str, as_json: AsJson = False) -> None:
    """An entry's versions: what changed, where it came from, who, when."""
    kb = _open(_settings())
    try:
        out = kb.curator.entry_out(entry)
    finally:
        kb.close()
    if as_json:
        _echo_json(out.model_dump())
        return
    typer.echo(f"{out.id} ({out.status}; {out.source})")
    for v in out.versions:
        typer.echo(f"  v{v.version}  {v.created_at[:19]}  {v.provenance:<16} {v.actor or '-':<20} "
                   f"{v.status:<8} {len(v.learned)} learned  A: {v.answer[:60]}")


@app.command()
def candidates(
    status: Annotated[str, typer.Option(help="review, promoted, approved, rejected, merged, or all")] = "review",
    limit: Annotated[int, typer.Option()] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Candidate entries (agents' resolutions, resolved tickets), most frequent first (see kb review)."""
    kb = _open(_settings())
    try:
        rows = kb.curator.candidates(None if status in ("all", "") else status, limit)
    finally:
        kb.close()
    if as_json:
        _echo_json([c.model_dump() for c in rows])
        return
    for c in rows:
        _print_candidate(c)


@app.command()
def gaps(
    days: Annotated[int, typer.Option(help="Look back this many days.")] = 30,
    max_confidence: Annotated[float, typer.Option(help="Answered below this confidence also counts.")] = 0.5,
    limit: Annotated[int, typer.Option()] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Knowledge gaps: clusters of recent handed-off and low-confidence questions, largest first."""
    kb = _open(_settings())
    try:
        clusters = kb.gaps(days=days, max_confidence=max_confidence, limit=limit)
    finally:
        kb.close()
    if as_json:
        _echo_json(clusters)
        return
    if not clusters:
        typer.echo("no handed-off or low-confidence questions in that period")
    for c in clusters:
        typer.echo(f"{c['count']:>4}x  {c['examples'][0]}")
        for ex in c["examples"][1:3]:
            typer.echo(f"       also: {ex}")


@app.command()
def reindex() -> None:
    """Rebuild the index from the system of record (after a model or tokenizer change)."""
    kb = _open(_settings(), allow_mismatch=True)
    try:
        n = kb.reindex(progress=_Bar)
    finally:
        kb.close()
    typer.echo(f"reindexed {n} units")


@app.command()
def stats(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Counts and configuration of the knowledge base."""
    kb = _open(_settings())
    try:
        data = kb.stats()
    finally:
        kb.close()
    if as_json:
        _echo_json(data)
        return
    for key, value in data.items():
        typer.echo(f"{key}: {value}")


@app.command("fit-fusion")
def fit_fusion(
    eval_file: Annotated[Path, typer.Argument(help="JSONL with question and gold_ids (and optional split).")],
    split: Annotated[str, typer.Option(help="Use only rows with this split value ('' for all).")] = "dev",
) -> None:
    """Learn how to fuse dense and BM25 for this knowledge base from labelled questions."""
    from eval.run import labelled as to_labelled
    from eval.run import load_rows
    from retrieval.fusion_fit import fit_fusion as fit

    kb = _open(_settings())
    try:
        labelled = to_labelled(load_rows(eval_file, split or None))
        result = fit(kb.searcher, labelled)
        kb.set_fusion(result.model)
    finally:
        kb.close()
    typer.echo(result.summary())


@app.command()
def calibrate(
    eval_file: Annotated[Path | None, typer.Argument(
        help="JSONL with question, gold_ids ([] = should hand off), split. Omitted: refit on the stored "
             "questions of the last calibration (after the knowledge base has learned).")] = None,
    split: Annotated[str, typer.Option(help="Use only rows with this split value ('' for all).")] = "dev",
    target_precision: Annotated[float | None, typer.Option(help="Precision the answer threshold must reach.")] = None,
    unanswerable_share: Annotated[float | None, typer.Option(
        help="Expected share of unanswerable questions in real traffic (default: KB_UNANSWERABLE_SHARE, "
             "else the file's own mix).")] = None,
) -> None:
    """Fit the answer confidence and derive the answer threshold from the target precision."""
    from eval.run import load_rows

    kb = _open(_settings(target_precision=target_precision, unanswerable_share=unanswerable_share))
    try:
        if eval_file is None:
            cal = kb.recalibrate()
        else:
            rows = [(q.question, q.gold_ids) for q in load_rows(eval_file, split or None)]
            cal = kb.fit_calibration(rows, fitted_on=f"{eval_file}:{split or 'all'}")
    finally:
        kb.close()
    typer.echo(f"calibrated on {cal.n} questions: answer threshold {cal.answer_threshold:.3f} gives precision "
               f"{cal.dev_precision} at coverage {cal.dev_coverage} (out-of-fold, target {cal.target_precision})")


@app.command("train-router")
def train_router(
    path: Annotated[Path, typer.Argument(help="CSV or JSONL of past questions and the team that resolved them.")],
    text_field: Annotated[str, typer.Option(help="Column with the customer's text.")] = "text",
    label_field: Annotated[str, typer.Option(help="Column with the team.")] = "team",
) -> None:
    """Train the routing classifier (on the shared multilingual embedding plus lexical features)."""
    kb = _open(_settings())
    try:
        clf = kb.train_router(path, text_field, label_field, progress=_Bar)
    finally:
        kb.close()
    typer.echo(f"router v{clf.version}: {len(clf.labels)} teams from {clf.meta['n_train']} examples")


@app.command("train-emotion")
def train_emotion(
    path: Annotated[Path, typer.Argument(help="CSV/TSV/JSONL of texts with emotion labels.")],
    text_field: Annotated[str, typer.Option()] = "text",
    label_field: Annotated[str, typer.Option()] = "emotion",
    positive: Annotated[list[str] | None, typer.Option(help="Label value(s) that mean angry/frustrated.")] = None,
    target_precision: Annotated[float, typer.Option(help="Precision the escalation alerts must reach.")] = 0.91,
) -> None:
    """Train the anger detector on a team's own labels; the escalation threshold comes from the target precision."""
    kb = _open(_settings())
    try:
        clf = kb.train_emotion(path, text_field, label_field, positive or ["angry"], target_precision, progress=_Bar)
    finally:
        kb.close()
    typer.echo(f"emotion model trained on {clf.meta['n_train']} examples; escalate at score >= "
               f"{clf.meta['threshold']:.3f} (target precision {target_precision})")


@app.command("eval")
def eval_(
    args: Annotated[list[str], typer.Argument(help="EVALFILE, or: compare REPORT_A REPORT_B")],
    out: Annotated[Path | None, typer.Option(help="Folder for report.json, report.md, report.html.")] = None,
    split: Annotated[str, typer.Option(help="Only rows with this split ('' for all).")] = "test",
    tolerance: Annotated[float, typer.Option(help="compare: a drop larger than this fails.")] = 0.01,
    ragas: Annotated[bool, typer.Option(help="Also run ragas' metrics that need no LLM.")] = True,
) -> None:
    """Evaluate the knowledge base on a labelled file (same code path as the API), or compare two reports.

    `kb eval compare A B` exits 1 when a quality metric of B dropped below A by more than --tolerance."""
    from eval.report import compare, write_report

    if args and args[0] == "compare":
        if len(args) != 3:
            raise BadInput("usage: kb eval compare REPORT_A REPORT_B (report.json files or their folders)")
        paths = [Path(a) / "report.json" if Path(a).is_dir() else Path(a) for a in args[1:]]
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
        return
    if len(args) != 1:
        raise BadInput("usage: kb eval EVALFILE --out DIR")
    from eval.run import evaluate, load_rows

    path = Path(args[0])
    rows = load_rows(path, split or None)
    kb = _open(_settings())
    try:
        bar = _Bar(len(rows), "evaluating")
        result = evaluate(kb, rows, path, progress=bar.update)
        bar.close()
        if ragas:
            from eval.ragas_metrics import ragas_scores

            result["metrics"]["ragas"] = ragas_scores(kb, result["records"])
    finally:
        kb.close()
    out_dir = out or Path("eval-report")
    for p in write_report(result, out_dir):
        typer.echo(f"wrote {p}")
    d = result["metrics"]["decisions"]
    typer.echo(f"decisions: coverage {d['coverage']}, precision {d['precision']}, "
               f"handoff recall {d['handoff_recall_unanswerable']}")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        rc = app(standalone_mode=False)
        if isinstance(rc, int) and rc:
            sys.exit(rc)
    except KBError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        sys.exit(130)
    except ValidationError as exc:  # a bad KB_* variable or option value reaching Settings
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors())
        typer.echo(f"error: invalid configuration: {problems} (see core/settings.py for KB_* variables)", err=True)
        sys.exit(BadInput.exit_code)
    except Exception as exc:
        # usage errors (click's, or the copy of click that typer vendors) show themselves and carry an exit code
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            sys.exit(code)
        raise


if __name__ == "__main__":
    main()
