"""``kb eval`` as a job of the server that owns the knowledge base (``POST /v1/admin/eval``): the same
evaluation as ``kb eval FILE`` run directly, on the uploaded file; the CLI writes the report from the result."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval.run import evaluate, load_rows
from service.job_handlers import remove_upload

if TYPE_CHECKING:
    from service.jobs import JobProgress
    from service.knowledge_base import KnowledgeBase


def run_eval_job(kb: KnowledgeBase, params: dict[str, Any], progress: JobProgress) -> dict[str, Any]:
    try:
        rows = load_rows(Path(params["path"]), params.get("split") or None)
        progress(len(rows), "evaluating")
        result = evaluate(kb, rows, Path(params.get("name") or params["path"]), progress=progress.update)
        if params.get("ragas", True):
            from eval.ragas_metrics import ragas_scores

            result["metrics"]["ragas"] = ragas_scores(kb, result["records"])
    finally:
        remove_upload(params)
    return result
