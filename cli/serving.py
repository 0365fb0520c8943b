"""``kb serve``: start the HTTP API, the one owner of the knowledge base in KB_HOME (see ``service.ownership``)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from cli.common import settings
from core.errors import BadInput
from core.settings import Settings

app = typer.Typer()

EMBEDDED_WORKERS = (
    "--workers {n} is refused with the embedded index: Qdrant Edge allows one open shard per directory, so a "
    "second process cannot open {index}. One process uses the cores through threads already (embedding releases "
    "the GIL). For several processes or replicas use the server backends: KB_QDRANT_URL and KB_DATABASE_URL."
)


def check_workers(config: Settings) -> None:
    """Several worker processes need the server backends: the embedded shard and SQLite have one owner."""
    if config.workers > 1 and not (config.qdrant_url and config.database_url):
        raise BadInput(EMBEDDED_WORKERS.format(n=config.workers, index=config.index_dir))


def check_not_owned(config: Settings) -> None:
    """A second server on the same KB_HOME would fail inside the index: say who owns it instead."""
    from service.ownership import running_server

    if config.qdrant_url and config.database_url:
        return  # server backends: replicas share the knowledge base
    info = running_server(config.home)
    if info is not None:
        raise BadInput(f"a server already owns {config.home}: {info.url} (pid {info.pid}, started "
                       f"{info.started_at}); stop it first, or point the CLI at it")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    workers: Annotated[int | None, typer.Option(
        help="Worker processes: 1 with the embedded index (threads use the cores); any number with "
             "KB_QDRANT_URL and KB_DATABASE_URL.")] = None,
) -> None:
    """Start the HTTP API (OpenAPI docs at /docs). It owns KB_HOME while it runs: `kb` commands on the same
    KB_HOME send their work to it (announced in KB_HOME/server.json, with a local admin credential)."""
    import uvicorn

    from api.app import check_auth_binding

    config = settings(host=host, port=port, workers=workers)
    check_workers(config)
    check_auth_binding(config)
    check_not_owned(config)
    os.environ["KB_HOME"] = str(config.home)
    os.environ["KB_HOST"] = config.host
    os.environ["KB_PORT"] = str(config.port)
    # httptools (C HTTP parser) and uvloop: h11's pure-Python parsing was most of a cached answer's CPU
    uvicorn.run("api.asgi:app_factory", factory=True, host=config.host, port=config.port, http="httptools",
                loop="uvloop", workers=config.workers, log_level="info",
                access_log=False)  # api/metrics.py logs each request as JSON
