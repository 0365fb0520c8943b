"""The ``kb`` CLI as a client of a running server: HTTP calls with the caller's key, errors turned back into
``core.errors`` (so the exit codes are the same as working directly), jobs polled into the progress bar."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from core.errors import BackendError, BadInput, Cancelled, Forbidden, KBError, NotFound

POLL_S = 0.3


def _error_classes() -> dict[str, type[KBError]]:
    found: dict[str, type[KBError]] = {}
    todo: list[type[KBError]] = [KBError]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.code, cls)
        todo.extend(cls.__subclasses__())
    return found


def error_for(code: str | None, message: str, status: int = 500) -> KBError:
    """The ``core.errors`` exception a server's JSON error body stands for."""
    cls = _error_classes().get(code or "")
    if cls is None:
        cls = (Forbidden if status in (401, 403) else NotFound if status == 404 else
               BadInput if 400 <= status < 500 else BackendError)
    return cls(message)


class ServerClient:
    """One server: ``url`` and the key to present (the local admin credential, or ``KB_API_KEY``)."""

    def __init__(self, url: str, key: str | None, local: bool = False, timeout_s: float = 120.0) -> None:
        import httpx

        self.url = url.rstrip("/")
        self.local = local
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s, trust_env=False)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        attempts = 4 if method in ("GET", "DELETE") else 1  # reads and cancels are safe to repeat
        for attempt in range(attempts):
            try:
                response = self._http.request(method, path, **kwargs)
                break
            except httpx.TransportError as exc:  # e.g. a kept-alive connection the busy server closed
                if attempt == attempts - 1:
                    raise BackendError(f"cannot reach the server at {self.url}: {exc}") from exc
                time.sleep(0.2 * (attempt + 1))
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {}
            if not isinstance(body, dict):
                body = {}
            message = str(body.get("message") or body.get("detail") or response.text[:300])
            raise error_for(body.get("error"), message, response.status_code)
        return response.json() if response.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        if body is not None:
            kwargs["json"] = body
        return self.request("POST", path, **kwargs)

    def close(self) -> None:
        self._http.close()

    # -- jobs -------------------------------------------------------------------------------
    def upload(self, path: str, files: list[Path], data: dict[str, str]) -> dict[str, Any]:
        """POST files (multipart, each under its own path as the client sees it) and form fields."""
        handles = [f.open("rb") for f in files]
        try:
            parts = [("files", (str(f.resolve()), h, "application/octet-stream"))
                     for f, h in zip(files, handles, strict=True)]
            return dict(self.request("POST", path, files=parts, data=data))
        finally:
            for h in handles:
                h.close()

    def wait(self, job: dict[str, Any], desc: str) -> Any:
        """Poll a job until it ends, driving the progress bar from its records done/total; its result, or the
        error it failed with. Ctrl-C cancels the job (between batches) before giving up."""
        from cli.common import Bar

        bar = Bar(int(job.get("total") or 0), desc)
        try:
            while job["state"] in ("queued", "running"):
                time.sleep(POLL_S)
                job = self.get(f"/v1/jobs/{job['id']}")
                bar.set(int(job.get("done") or 0), int(job.get("total") or 0), job.get("label") or desc)
        except KeyboardInterrupt:
            self.request("DELETE", f"/v1/jobs/{job['id']}")
            raise
        finally:
            bar.close()
        if job["state"] == "done":
            return job.get("result")
        if job["state"] == "cancelled":
            raise Cancelled(f"job {job['id']} was cancelled")
        raise error_for(job.get("error_code"), job.get("error") or f"job {job['id']} failed")

    def run_job(self, path: str, body: dict[str, Any], desc: str) -> Any:
        return self.wait(self.post(path, body), desc)
