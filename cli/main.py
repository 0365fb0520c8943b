"""The ``kb`` command: assembles the sub-apps (ingest, query, review, train, eval, serve) and translates errors
once: a message on stderr and the exit code of the ``core.errors`` class, never a traceback."""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError

from cli import evaluating, ingesting, query, review, serving, training
from cli.keys import app as keys_app
from core.errors import BadInput, KBError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="supportkb: a support knowledge base that answers.")


@app.callback()
def root(
    server: Annotated[str | None, typer.Option(
        "--server", help="Send the work to this server (an editor on another machine; key from KB_API_KEY). "
                         "Default: KB_SERVER_URL, else the server running for KB_HOME, else work directly.")] = None,
) -> None:
    """supportkb: a support knowledge base that answers."""
    if server:
        os.environ["KB_SERVER_URL"] = server  # read by Settings like every KB_ variable


app.add_typer(ingesting.app)
app.add_typer(query.app)
app.add_typer(review.app, name="review")
app.add_typer(training.app)
app.add_typer(evaluating.app, name="eval")
app.add_typer(serving.app)
app.add_typer(keys_app, name="keys")


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
    except SettingsError as exc:  # a KB_* variable holding a structure (JSON) that does not parse
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        typer.echo(f"error: invalid configuration: {exc}{cause} (see core/settings.py for KB_* variables)", err=True)
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
