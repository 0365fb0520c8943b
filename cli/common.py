"""What every ``kb`` command shares: settings, opening the knowledge base directly or finding the server
that owns it, the progress bar, JSON output and option parsing."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from core.errors import BadInput
from core.offline import apply_offline_env
from core.progress import Progress
from core.settings import Settings

if TYPE_CHECKING:
    from cli.client import ServerClient
    from service.knowledge_base import KnowledgeBase

AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def settings(**overrides: Any) -> Settings:
    apply_offline_env()
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def open_kb(config: Settings, allow_mismatch: bool = False, for_ingest: bool = False) -> KnowledgeBase:
    from service.knowledge_base import KnowledgeBase

    return KnowledgeBase.open(config, allow_mismatch=allow_mismatch, for_ingest=for_ingest)


@contextmanager
def opened(config: Settings, allow_mismatch: bool = False, for_ingest: bool = False) -> Iterator[KnowledgeBase]:
    """The knowledge base opened directly (no server owns it), closed afterwards."""
    kb = open_kb(config, allow_mismatch=allow_mismatch, for_ingest=for_ingest)
    try:
        yield kb
    finally:
        kb.close()


def server(config: Settings) -> ServerClient | None:
    """The server to send the work to: ``--server``/``KB_SERVER_URL`` (with ``KB_API_KEY``), else a live server
    announced in ``KB_HOME`` (with the local credential it keeps there); None: open the knowledge base directly."""
    from cli.client import ServerClient
    from service.ownership import read_local_key, running_server

    if config.server_url:
        key = config.api_key.get_secret_value() if config.api_key else None
        return ServerClient(config.server_url, key)
    info = running_server(config.home)
    if info is None:
        return None
    key = config.api_key.get_secret_value() if config.api_key else read_local_key(config.home)
    return ServerClient(info.url, key, local=True)


class Bar(Progress):
    """A tqdm bar on stderr (only on a terminal), driven by updates or by absolute figures from a job."""

    def __init__(self, total: int, desc: str) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=total, desc=desc, unit="unit", file=sys.stderr, leave=False,
                         disable=not sys.stderr.isatty())
        self._desc = desc

    def update(self, n: int = 1) -> None:
        self._bar.update(n)

    def set(self, done: int, total: int, desc: str | None = None) -> None:
        """Absolute figures (a job's records done/total, its current label)."""
        if self._bar.disable:
            return
        if total != self._bar.total:
            self._bar.total = total
        if desc and desc != self._desc:
            self._desc = desc
            self._bar.set_description_str(desc, refresh=False)
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        self._bar.close()


def echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def parse_filters(items: list[str] | None) -> Any:
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


def editor(name: str) -> str:
    who = name or os.environ.get("USER") or ""
    if not who:
        raise BadInput("say who is reviewing: --by NAME")
    return who
