"""Wire requests to domain records and domain results to what a caller may see: sources are named relative
to the ingest root (``KB_SOURCE_ROOT``, default the server's working directory), never by the server's
absolute paths (see ``api.schemas`` for the wire models)."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Any

from answering.records import AskResult, Question
from core.caller import Caller
from core.models import Filters, SearchHit
from learning.records import Feedback, Resolution

from .schemas import AskRequest, FeedbackRequest, FiltersIn, ResolutionRequest, SearchHitOut


class SourceNames:
    """Absolute source paths <-> names relative to a root. A path outside the root shows only its folder and
    file name; a non-path source (``learned:...``) is shown as it is."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def public(self, source: str) -> str:
        path, sep, fragment = source.partition("#")
        if not path.startswith("/") and not (len(path) > 2 and path[1] == ":" and path[2] in "\\/"):
            return source
        pure = Path(path)
        try:
            shown = pure.relative_to(self.root).as_posix()
        except ValueError:
            shown = PurePosixPath(*pure.parts[-2:]).as_posix()
        return f"{shown}{sep}{fragment}"

    def private(self, source: str) -> str:
        """A source filter as a caller writes it (relative) -> the stored absolute path."""
        if source.startswith("/") or "://" in source or ":" in source.split("/")[0]:
            return source
        return os.path.normpath(os.path.join(self.root, source))


def filters_of(filters: FiltersIn | None, names: SourceNames) -> Filters | None:
    if filters is None:
        return None
    data = filters.model_dump(exclude_none=True)
    if "source" in data:
        values = data["source"] if isinstance(data["source"], list) else [data["source"]]
        data["source"] = [names.private(v) for v in values]
    return Filters.model_validate(data)


def question_of(body: AskRequest, names: SourceNames, caller: Caller) -> Question:
    """The caller is not part of the question: sessions are namespaced per key here, so another key's
    ``session_id`` starts a fresh conversation."""
    session = f"{caller.key_id}:{body.session_id}" if body.session_id else None
    return Question(question=body.question, filters=filters_of(body.filters, names), customer=body.customer,
                    session_id=session, context=body.context)


def feedback_of(body: FeedbackRequest) -> Feedback:
    return Feedback.model_validate(body.model_dump())


def resolution_of(body: ResolutionRequest) -> Resolution:
    return Resolution.model_validate(body.model_dump())


def hit_out(hit: SearchHit, names: SourceNames) -> SearchHitOut:
    data = hit.model_dump(exclude={"features", "kind", "answer", "char_start", "char_end"})
    data["source"] = names.public(hit.source)
    data["metadata"] = {k: v for k, v in hit.metadata.items() if not _is_path(v)}
    return SearchHitOut.model_validate(data)


def ask_out(result: AskResult, names: SourceNames) -> AskResult:
    citations = [c.model_copy(update={"source": names.public(c.source)}) for c in result.citations]
    return result.model_copy(update={"citations": citations})


def event_out(event: str, data: dict[str, Any], names: SourceNames) -> dict[str, Any]:
    """The ``meta`` event of /v1/ask/stream carries citations: their sources are mapped like /v1/ask's."""
    if event != "meta" or not isinstance(data.get("citations"), list):
        return data
    cited = [dict(c, source=names.public(str(c.get("source", "")))) if isinstance(c, dict) else c
             for c in data["citations"]]
    return dict(data, citations=cited)


def _is_path(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("/") and len(value) > 1
