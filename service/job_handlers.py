"""What each kind of job does: the same ``KnowledgeBase`` calls the CLI makes when it works directly (ingest,
tickets, reindex, calibrate, fit-fusion, train router/emotion), with the job's progress; and ``eval``, which
lives in the eval layer above this one and is looked up by name when it runs."""

from __future__ import annotations

import copy
import importlib
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import BadInput, Cancelled
from service.disk import check_ingest_space, input_bytes

if TYPE_CHECKING:
    from learning.labels import LabelsLearned
    from service.jobs import Handler, JobProgress
    from service.knowledge_base import KnowledgeBase

LATE_BOUND = {"eval": "eval.job:run_eval_job"}
"""Kinds whose code sits above ``service`` in the import order: module:function, imported when a job runs."""


def check_upload_here(params: dict[str, Any]) -> None:
    """Uploads are saved under the KB_HOME of the replica that received them: a job claimed by a replica on
    another machine cannot read them unless the replicas share KB_HOME/uploads."""
    folder = params.get("upload_dir")
    if folder and not Path(folder).is_dir():
        raise BadInput(f"the job's uploaded files are on {params.get('host') or 'another machine'}, not here: "
                       "replicas on several machines need a shared KB_HOME/uploads; upload again")


def remove_upload(params: dict[str, Any]) -> None:
    """Uploaded files are kept only while their job runs."""
    if params.get("upload_dir"):
        shutil.rmtree(params["upload_dir"], ignore_errors=True)


def drop_orphans(kb: KnowledgeBase) -> int:
    """Index points the record does not know (a cancelled job's half-written file): removed, so they are never
    found. Re-running the same files writes them properly."""
    known = {u.id for u in kb.store.sources.iter_units()}
    orphans = sorted(kb.index.unit_ids() - known)
    if orphans:
        kb.index.delete(orphans)
        kb.index.flush()
    return len(orphans)


def ingest(kb: KnowledgeBase, params: dict[str, Any], progress: JobProgress) -> dict[str, Any]:
    """Files by path (server-side) or uploaded (``names``: upload path -> the client's name for the file)."""
    from ingest.readers import discover
    from ingest.tickets import TicketMapping

    paths = [Path(p) for p in params.get("paths", [])]
    names = {Path(k): v for k, v in (params.get("names") or {}).items()} or None
    mapping = TicketMapping.model_validate(params["mapping"]) if params.get("mapping") else None
    check_upload_here(params)
    try:
        files = [p for p in paths if p.is_file()] if mapping else discover(paths)
        check_ingest_space(kb.settings, input_bytes(files), kb.embedder.dim)
        progress(0, "ingest")
        try:
            if mapping is not None:
                report = kb.ingest_tickets(paths, mapping, names=names)
            else:
                report = kb.ingest(paths, prune=bool(params.get("prune")), progress=progress, names=names)
        except Cancelled:
            drop_orphans(kb)
            raise
    finally:
        remove_upload(params)
    return report.model_dump()


def reindex(kb: KnowledgeBase, params: dict[str, Any], progress: JobProgress) -> dict[str, Any]:
    return {"units": kb.reindex(progress=progress)}


def calibrate(kb: KnowledgeBase, params: dict[str, Any], progress: JobProgress) -> dict[str, Any]:
    """``questions`` [[question, gold_ids]...] or none (refit on the stored questions); ``auto`` fits with no
    labels; ``target_precision``/``unanswerable_share`` override the server's settings for this fit only; ``learn``
    (default false) first adds the labelled questions as phrasings of their entries (``learning.labels``)."""
    fitter = copy.copy(kb.fitter)
    if params.get("target_precision") is not None:
        fitter.target_precision = float(params["target_precision"])
    if params.get("unanswerable_share") is not None:
        fitter.unanswerable_share = float(params["unanswerable_share"])
    questions = params.get("questions")
    learned: LabelsLearned | None = None
    progress(len(questions or []), "calibrate")
    if params.get("auto"):
        calibration = fitter.auto()
    elif questions is None:
        calibration = fitter.refit()
    else:
        labelled = [(str(q), list(g)) for q, g in questions]
        if params.get("learn"):
            learned = kb.learn_labelled(labelled, f"labels:{params.get('fitted_on') or 'calibrate'}",
                                        params.get("actor"))
        calibration = fitter.fit(labelled, str(params.get("fitted_on", "")))
    kb.set_calibration(calibration)
    return {**calibration.model_dump(), **({"learned": learned.model_dump()} if learned is not None else {})}


def fit_fusion(kb: KnowledgeBase, params: dict[str, Any], progress: JobProgress) -> dict[str, Any]:
    from retrieval.fusion_fit import Labelled
    from retrieval.fusion_fit import fit_fusion as fit

    labelled = [Labelled(question=q["question"], gold=frozenset(q["gold_ids"]))
                for q in params.get("questions", []) if q.get("gold_ids")]
    progress(len(labelled), "fit-fusion")
    result = fit(kb.searcher, labelled, kb.fitter.learned_from)
    kb.set_fusion(result.model)
    return {"summary": result.summary()}


def _upload(params: dict[str, Any]) -> Path:
    check_upload_here(params)
    path = Path(params["path"])
    if not path.is_file():
        raise BadInput(f"no such file: {params.get('name') or path}")
    return path


def train_router(kb: KnowledgeBase, params: dict[str, Any], progress: JobProgress) -> dict[str, Any]:
    try:
        clf = kb.train_router(_upload(params), params.get("text_field", "text"), params.get("label_field", "team"),
                              progress=progress)
    finally:
        remove_upload(params)
    return {"version": clf.version, "labels": list(clf.labels), "meta": clf.meta}


def train_emotion(kb: KnowledgeBase, params: dict[str, Any], progress: JobProgress) -> dict[str, Any]:
    try:
        clf = kb.train_emotion(_upload(params), params.get("text_field", "text"),
                               params.get("label_field", "emotion"), params.get("positive") or ["angry"],
                               float(params.get("target_precision", 0.91)), progress=progress)
    finally:
        remove_upload(params)
    return {"version": clf.version, "labels": list(clf.labels), "meta": clf.meta}


def _late(target: str) -> Handler:
    def run(kb: KnowledgeBase, params: dict[str, Any], progress: JobProgress) -> dict[str, Any]:
        module, name = target.split(":")
        handler: Handler = getattr(importlib.import_module(module), name)
        return handler(kb, params, progress)

    return run


def handlers() -> dict[str, Handler]:
    """Every job kind the server runs."""
    own: dict[str, Handler] = {"ingest": ingest, "reindex": reindex, "calibrate": calibrate,
                               "fit-fusion": fit_fusion, "train-router": train_router,
                               "train-emotion": train_emotion}
    return {**own, **{kind: _late(target) for kind, target in LATE_BOUND.items()}}
