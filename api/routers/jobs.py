"""Job routes: ingestion as a job (``POST /v1/ingest``: uploads, or server-side paths for the local owner and
under KB_INGEST_ROOTS; editor role), the admin writes as jobs (reindex, calibrate, fit-fusion, training,
evaluation; admin role), and ``/v1/jobs/{id}`` to watch (GET) or cancel (DELETE) one. Each returns the job at
once (202); the server's job worker runs it."""

from __future__ import annotations

import json
import socket
import uuid
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, File, Form, Path, Query, Request, UploadFile

from core.caller import Caller
from core.errors import BadInput, Forbidden, NotReady
from service.disk import check_ingest_space, input_bytes
from service.jobs import JobRunner, JobView
from service.owner import ServerOwner

from ..deps import Admin, Editor, Service

router = APIRouter(prefix="/v1", tags=["jobs"])

UPLOAD_PATHS = ("/v1/ingest", "/v1/admin/train/", "/v1/admin/eval")
"""Routes that take files: their bodies are limited by KB_MAX_UPLOAD_BYTES, not KB_MAX_BODY_BYTES."""
JobId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[0-9a-f]+$")]
CHUNK = 1024 * 1024


def get_owner(request: Request) -> ServerOwner:
    owner: ServerOwner | None = getattr(request.app.state, "owner", None)
    if owner is None:
        raise NotReady("service is starting")
    return owner


Owner = Annotated[ServerOwner, Depends(get_owner)]


def _jobs(owner: ServerOwner) -> JobRunner:
    return owner.jobs


def _json_form(value: str, what: str, default: Any) -> Any:
    if not value.strip():
        return default
    try:
        return json.loads(value)
    except ValueError:
        raise BadInput(f"{what} must be JSON, got {value[:80]!r}") from None


def _save_uploads(owner: ServerOwner, files: list[UploadFile]) -> tuple[str, dict[str, str]]:
    """Uploaded files into KB_HOME/uploads/<id>/ (removed when the job ends); upload path -> the client's name."""
    folder = owner.home / "uploads" / uuid.uuid4().hex
    names: dict[str, str] = {}
    for i, upload in enumerate(files):
        client_name = upload.filename or f"upload-{i}"
        target = folder / str(i) / (FsPath(client_name).name or f"upload-{i}")
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as out:
            while chunk := upload.file.read(CHUNK):
                out.write(chunk)
        names[str(target)] = client_name
    return str(folder), names


def _allowed_paths(owner: ServerOwner, caller: Caller, paths: list[str]) -> list[str]:
    """Server-side paths: the local owner may name any; others only paths under KB_INGEST_ROOTS."""
    if owner.is_local(caller):
        return paths
    roots = [r.resolve() for r in owner.settings.ingest_roots]
    if not roots:
        raise Forbidden("ingesting by server-side path is off (KB_INGEST_ROOTS is empty): upload the files")
    for p in paths:
        resolved = FsPath(p).resolve()
        if not any(resolved.is_relative_to(root) for root in roots):
            raise Forbidden(f"{p} is not under KB_INGEST_ROOTS")
    return paths


@router.post("/ingest", response_model=JobView, status_code=202)
def submit_ingest(
    owner: Owner, service: Service, caller: Editor,
    files: Annotated[list[UploadFile] | None, File(description="FAQ, documents or ticket exports")] = None,
    paths: Annotated[str, Form(description="JSON list of server-side paths (local owner, KB_INGEST_ROOTS)")] = "",
    prune: Annotated[str, Form(description="true: remove sources under the given folders that are gone")] = "false",
    mapping: Annotated[str, Form(description="ticket exports: the field mapping as JSON")] = "",
) -> JobView:
    """Ingest as a job: returns at once with the job; watch it at /v1/jobs/{id}."""
    server_paths = _allowed_paths(owner, caller, _json_form(paths, "paths", [])) if paths.strip() else []
    uploads = [f for f in files or [] if f.filename]
    if not server_paths and not uploads:
        raise BadInput("nothing to ingest: upload files or give server-side paths")
    upload_dir, names = _save_uploads(owner, uploads) if uploads else ("", {})
    size = input_bytes(FsPath(p) for p in [*names, *server_paths])
    check_ingest_space(owner.settings, size, service.embedder.dim)
    params = {"paths": [*server_paths, *names], "names": names or None, "upload_dir": upload_dir or None,
              "host": socket.gethostname(),
              "prune": _json_form(prune, "prune", False) is True, "mapping": _json_form(mapping, "mapping", None)}
    return _jobs(owner).submit("ingest", params, caller)


@router.get("/jobs", response_model=list[JobView])
def list_jobs(owner: Owner, caller: Editor, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[JobView]:
    """Recent jobs, newest first."""
    return _jobs(owner).recent(limit)


@router.get("/jobs/{job_id}", response_model=JobView)
def get_job(job_id: JobId, owner: Owner, caller: Editor) -> JobView:
    """State, records done/total, rate, ETA, quarantined rows with reasons, and the final report."""
    return _jobs(owner).get(job_id)


@router.delete("/jobs/{job_id}", response_model=JobView)
def cancel_job(job_id: JobId, owner: Owner, caller: Editor) -> JobView:
    """Cancel: a queued job at once, a running one at its next batch (what it wrote so far is kept)."""
    return _jobs(owner).cancel(job_id)


@router.post("/admin/reindex", response_model=JobView, status_code=202)
def reindex(owner: Owner, caller: Admin) -> JobView:
    return _jobs(owner).submit("reindex", {}, caller)


@router.post("/admin/calibrate", response_model=JobView, status_code=202)
def calibrate(owner: Owner, caller: Admin, body: Annotated[dict[str, Any], Body()]) -> JobView:
    """``questions`` [[question, gold_ids]...] (null: refit on the stored ones), ``fitted_on``, ``auto``,
    ``target_precision``, ``unanswerable_share``, ``learn`` (default false; true: the labelled questions
    become phrasings of their entries first, in versions by this caller)."""
    return _jobs(owner).submit("calibrate", {**body, "actor": caller.name}, caller)


@router.post("/admin/fit-fusion", response_model=JobView, status_code=202)
def fit_fusion(owner: Owner, caller: Admin, body: Annotated[dict[str, Any], Body()]) -> JobView:
    """``questions``: [{question, gold_ids}...]."""
    return _jobs(owner).submit("fit-fusion", body, caller)


def _one_upload(owner: ServerOwner, files: list[UploadFile] | None, params: str) -> dict[str, Any]:
    uploads = [f for f in files or [] if f.filename]
    if len(uploads) != 1:
        raise BadInput("upload exactly one file")
    upload_dir, names = _save_uploads(owner, uploads)
    (path, name), = names.items()
    fields = _json_form(params, "params", {})
    if not isinstance(fields, dict):
        raise BadInput("params must be a JSON object")
    return {**fields, "path": path, "name": name, "upload_dir": upload_dir, "host": socket.gethostname()}


@router.post("/admin/train/{kind}", response_model=JobView, status_code=202)
def train(kind: Annotated[str, Path(pattern=r"^(router|emotion)$")], owner: Owner, caller: Admin,
          files: Annotated[list[UploadFile] | None, File()] = None,
          params: Annotated[str, Form(description="JSON: text_field, label_field (positive, target_precision)")] = "",
          ) -> JobView:
    """Train the routing (router) or anger (emotion) classifier on an uploaded labelled file."""
    return _jobs(owner).submit(f"train-{kind}", _one_upload(owner, files, params), caller)


@router.post("/admin/eval", response_model=JobView, status_code=202)
def evaluate(owner: Owner, caller: Admin, files: Annotated[list[UploadFile] | None, File()] = None,
             params: Annotated[str, Form(description="JSON: split, ragas")] = "") -> JobView:
    """Evaluate on an uploaded labelled file; the job's result is what `kb eval` writes its report from."""
    return _jobs(owner).submit("eval", _one_upload(owner, files, params), caller)
