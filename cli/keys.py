"""``kb keys``: create, list and revoke the API keys the HTTP API accepts (in the system of record)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from cli.common import AsJson, echo_json, settings
from core.caller import Role
from core.keys import KeyInfo, KeyStore, parse_expiry

app = typer.Typer(no_args_is_help=True, help="API keys: who may call the HTTP API, with which role.")


@contextmanager
def _keys() -> Iterator[KeyStore]:
    from core.store import Store

    config = settings()
    config.home.mkdir(parents=True, exist_ok=True)
    store = Store(config.database())
    try:
        yield KeyStore(store.keys)
    finally:
        store.close()


def _row(info: KeyInfo) -> str:
    state = ("revoked" if info.revoked_at else "expired" if not info.active else
             f"expires {info.expires_at:%Y-%m-%d %H:%M}Z" if info.expires_at else "active")
    return f"{info.id}  {info.role.value:<8} {info.name:<24} {state}"


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Who the key is for (e.g. web-chatbot, eve).")],
    role: Annotated[Role, typer.Option(help="chatbot < agent < editor < admin (each may do what the one "
                                            "before may).")],
    expires: Annotated[str | None, typer.Option(help="30d, 12h, 2w or an ISO date (default: never).")] = None,
    as_json: AsJson = False,
) -> None:
    """Create a key. The secret is printed once: it is stored only as a hash."""
    with _keys() as keys:
        new = keys.create(name, role, parse_expiry(expires))
    if as_json:
        echo_json({"key": new.info.model_dump(mode="json"), "secret": new.secret})
        return
    typer.echo(_row(new.info))
    typer.echo(new.secret)
    typer.echo("(the key above is shown once: give it to the caller as 'Authorization: Bearer <key>')", err=True)


@app.command("list")
def list_(as_json: AsJson = False) -> None:
    """Every key: id, role, name, state (never a secret)."""
    with _keys() as keys:
        infos = keys.list()
    if as_json:
        echo_json([i.model_dump(mode="json") for i in infos])
        return
    for info in infos:
        typer.echo(_row(info))


@app.command("revoke")
def revoke(key: Annotated[str, typer.Argument(help="The key id (or its name when only one active key has it).")],
           as_json: AsJson = False) -> None:
    """Revoke a key: it stops working at once (on every server sharing the database)."""
    with _keys() as keys:
        info = keys.revoke(key)
    if as_json:
        echo_json(info.model_dump(mode="json"))
        return
    typer.echo(f"revoked {_row(info)}")
