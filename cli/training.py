"""``kb fit-fusion``, ``kb calibrate``, ``kb train-router`` and ``kb train-emotion``: fitting the knowledge
base's models, directly or as jobs of the server that owns it (labelled files are read or uploaded here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.common import Bar, opened, server, settings

app = typer.Typer()


@app.command("fit-fusion")
def fit_fusion(
    eval_file: Annotated[Path, typer.Argument(help="JSONL with question and gold_ids (and optional split).")],
    split: Annotated[str, typer.Option(help="Use only rows with this split value ('' for all).")] = "dev",
) -> None:
    """Learn how to fuse dense and BM25 for this knowledge base from labelled questions."""
    from eval.run import labelled as to_labelled
    from eval.run import load_rows

    config = settings()
    rows = load_rows(eval_file, split or None)
    client = server(config)
    if client is not None:
        body = {"questions": [{"question": r.question, "gold_ids": list(r.gold_ids)} for r in rows]}
        summary = client.run_job("/v1/admin/fit-fusion", body, "fit-fusion")["summary"]
    else:
        from retrieval.fusion_fit import fit_fusion as fit

        with opened(config) as kb:
            result = fit(kb.searcher, to_labelled(rows), kb.fitter.learned_from)
            kb.set_fusion(result.model)
        summary = result.summary()
    typer.echo(summary)


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
    auto: Annotated[bool, typer.Option("--auto", help=(
        "No labels: held-out phrasings of entries with several phrasings as questions to answer, built-in "
        "generic out-of-domain questions (zh + en) as questions to hand off."))] = False,
    learn: Annotated[bool, typer.Option("--learn/--no-learn", help=(
        "First add each labelled question as a phrasing of its one gold entry (a new version of the entry, "
        "undone by `kb review rollback`); the fit then scores each question without the phrasing it became. "
        "Answers far more questions directly, at a precision that lands below the target more often (README, "
        "'Calibration')."))] = False,
) -> None:
    """Fit the answer confidence and derive the answer threshold from the target precision."""
    from answering.calibration import Calibration
    from eval.run import load_rows
    from learning.labels import LabelsLearned

    learned: LabelsLearned | None = None
    config = settings(target_precision=target_precision, unanswerable_share=unanswerable_share)
    rows = None if eval_file is None else [(q.question, list(q.gold_ids)) for q in load_rows(eval_file, split or None)]
    fitted_on = f"{eval_file}:{split or 'all'}"
    client = server(config)
    from core.errors import BadInput

    if auto and eval_file is not None:
        raise BadInput("--auto takes no evaluation file")
    if learn and eval_file is None:
        raise BadInput("--learn needs a labelled file")
    if client is not None:
        body: dict[str, Any] = {"questions": rows, "fitted_on": fitted_on, "target_precision": target_precision,
                                "unanswerable_share": unanswerable_share, "auto": auto, "learn": learn}
        out = dict(client.run_job("/v1/admin/calibrate", body, "calibrate"))
        if out.get("learned") is not None:
            learned = LabelsLearned.model_validate(out.pop("learned"))
        cal = Calibration.model_validate(out)
    elif auto:
        with opened(config) as kb:
            cal = kb.auto_calibrate()
    else:
        with opened(config) as kb:
            if rows is not None and learn:
                learned = kb.learn_labelled(rows, f"labels:{fitted_on}", "local")
            cal = kb.recalibrate() if rows is None else kb.fit_calibration(rows, fitted_on=fitted_on)
    clarify = "none" if cal.clarify_threshold is None else f"{cal.clarify_threshold:.3f}"
    typer.echo(f"calibrated on {cal.n} questions: answer threshold {cal.answer_threshold:.3f} gives precision "
               f"{cal.dev_precision} at coverage {cal.dev_coverage} (out-of-fold, target {cal.target_precision}); "
               f"clarify threshold {clarify}, clarify rate {cal.dev_clarify_rate}, "
               f"self-served {cal.dev_self_served}, {len(cal.segment_thresholds)} segment threshold(s)")
    if learned is not None:
        typer.echo(learned.summary())


def _train_remote(client: Any, kind: str, path: Path, fields: dict[str, Any]) -> dict[str, Any]:
    from core.errors import BadInput

    if not path.is_file():
        raise BadInput(f"no such file: {path}")
    job = client.upload(f"/v1/admin/train/{kind}", [path], {"params": json.dumps(fields)})
    return dict(client.wait(job, f"train {kind}"))


@app.command("train-router")
def train_router(
    path: Annotated[Path, typer.Argument(help="CSV or JSONL of past questions and the team that resolved them.")],
    text_field: Annotated[str, typer.Option(help="Column with the customer's text.")] = "text",
    label_field: Annotated[str, typer.Option(help="Column with the team.")] = "team",
) -> None:
    """Train the routing classifier (on the shared multilingual embedding plus lexical features)."""
    config = settings()
    client = server(config)
    if client is not None:
        out = _train_remote(client, "router", path, {"text_field": text_field, "label_field": label_field})
    else:
        with opened(config) as kb:
            clf = kb.train_router(path, text_field, label_field, progress=Bar)
        out = {"version": clf.version, "labels": list(clf.labels), "meta": clf.meta}
    typer.echo(f"router v{out['version']}: {len(out['labels'])} teams from {out['meta']['n_train']} examples")


@app.command("train-emotion")
def train_emotion(
    path: Annotated[Path, typer.Argument(help="CSV/TSV/JSONL of texts with emotion labels.")],
    text_field: Annotated[str, typer.Option()] = "text",
    label_field: Annotated[str, typer.Option()] = "emotion",
    positive: Annotated[list[str] | None, typer.Option(help="Label value(s) that mean angry/frustrated.")] = None,
    target_precision: Annotated[float, typer.Option(help="Precision the escalation alerts must reach.")] = 0.91,
) -> None:
    """Train the anger detector on a team's own labels; the escalation threshold comes from the target precision."""
    config = settings()
    client = server(config)
    if client is not None:
        out = _train_remote(client, "emotion", path, {
            "text_field": text_field, "label_field": label_field, "positive": positive or ["angry"],
            "target_precision": target_precision})
    else:
        with opened(config) as kb:
            clf = kb.train_emotion(path, text_field, label_field, positive or ["angry"], target_precision,
                                   progress=Bar)
        out = {"version": clf.version, "labels": list(clf.labels), "meta": clf.meta}
    typer.echo(f"emotion model trained on {out['meta']['n_train']} examples; escalate at score >= "
               f"{out['meta']['threshold']:.3f} (target precision {target_precision})")
