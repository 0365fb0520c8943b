"""``kb search``, ``kb ask``, ``kb stats`` and ``kb gaps``: reading the knowledge base, directly or from the
server that owns it."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cli.common import AsJson, echo_json, opened, parse_filters, server, settings
from core.errors import BadInput

app = typer.Typer()


def _wire_filters(filters: Any) -> Any:
    return filters.model_dump(exclude_none=True) if filters is not None else None


@app.command()
def search(
    query: str,
    top_k: Annotated[int, typer.Option("--top-k", "-k")] = 5,
    filter_: Annotated[list[str] | None, typer.Option("--filter", "-f", help="key=value, e.g. lang=zh")] = None,
    mode: Annotated[str, typer.Option(help="hybrid, dense or bm25")] = "hybrid",
    as_json: AsJson = False,
) -> None:
    """Search the knowledge base."""
    config = settings()
    filters = parse_filters(filter_)
    client = server(config)
    hits: list[dict[str, Any]]
    if client is not None:
        if mode != "hybrid":
            raise BadInput("--mode dense|bm25 needs the knowledge base opened directly (the server searches hybrid)")
        hits = client.post("/v1/search", {"query": query, "top_k": top_k, "filters": _wire_filters(filters)})["hits"]
    else:
        with opened(config) as kb:
            hits = [h.model_dump(exclude={"features"}) for h in kb.search(query, top_k, filters, mode=mode)]  # type: ignore[arg-type]
    if as_json:
        echo_json(hits)
        return
    for i, h in enumerate(hits, 1):
        label = h.get("entry_id") or f"{h.get('doc_id')} [{h.get('section') or ''}]"
        head = h.get("question") or h.get("title") or ""
        typer.echo(f"{i}. {h['score']:.3f}  {label}  {head}")
        typer.echo(f"   {h['text'][:160].replace(chr(10), ' ')}")


@app.command()
def ask(
    question: str,
    filter_: Annotated[list[str] | None, typer.Option("--filter", "-f")] = None,
    as_json: AsJson = False,
) -> None:
    """Ask a question: an answer with citations, or a hand-off."""
    from answering.records import AskResult, Question

    config = settings()
    filters = parse_filters(filter_)
    client = server(config)
    if client is not None:
        response = AskResult.model_validate(
            client.post("/v1/ask", {"question": question, "filters": _wire_filters(filters)}))
    else:
        with opened(config) as kb:
            response = kb.ask(Question(question=question, filters=filters))
    if as_json:
        echo_json(response.model_dump())
        return
    typer.echo(f"decision: {response.decision}  confidence: {response.confidence:.2f}")
    if response.answer:
        typer.echo(response.answer)
    for c in response.citations:
        typer.echo(f"  [{c.entry_id or c.doc_id}] {c.source}")
    for r in response.related:
        chance = f"  p={r.probability:.2f}" if r.probability is not None else ""
        typer.echo(f"  {'choice' if response.decision == 'clarify' else 'related'}: {r.question} "
                   f"({r.entry_id or r.doc_id}){chance}")


@app.command()
def gaps(
    days: Annotated[int, typer.Option(help="Look back this many days.")] = 30,
    max_confidence: Annotated[float, typer.Option(help="Answered below this confidence also counts.")] = 0.5,
    limit: Annotated[int, typer.Option()] = 20,
    as_json: AsJson = False,
) -> None:
    """Knowledge gaps: clusters of recent handed-off and low-confidence questions, largest first."""
    config = settings()
    client = server(config)
    if client is not None:
        clusters = client.get("/v1/gaps", days=days, max_confidence=max_confidence, limit=limit)
    else:
        with opened(config) as kb:
            clusters = kb.gaps(days=days, max_confidence=max_confidence, limit=limit)
    if as_json:
        echo_json(clusters)
        return
    if not clusters:
        typer.echo("no handed-off or low-confidence questions in that period")
    for c in clusters:
        typer.echo(f"{c['count']:>4}x  {c['examples'][0]}")
        for ex in c["examples"][1:3]:
            typer.echo(f"       also: {ex}")


@app.command()
def stats(as_json: AsJson = False) -> None:
    """Counts and configuration of the knowledge base."""
    config = settings()
    client = server(config)
    if client is not None:
        data = client.get("/v1/stats")
    else:
        with opened(config) as kb:
            data = kb.stats()
    if as_json:
        echo_json(data)
        return
    for key, value in data.items():
        typer.echo(f"{key}: {value}")


@app.command()
def purge(as_json: AsJson = False) -> None:
    """Delete asks, feedback and sessions past retention (KB_RETENTION_DAYS, KB_SESSION_TTL_S). Works beside a
    running server: it opens only the system of record, which takes concurrent writers."""
    from core.store import Store
    from learning.retention import purge_expired

    config = settings()
    if not config.home.is_dir():
        raise BadInput(f"no knowledge base at {config.home} (set KB_HOME)")
    store = Store(config.database())
    try:
        purged = purge_expired(store, config)
    finally:
        store.close()
    if as_json:
        echo_json(purged.model_dump(mode="json"))
        return
    typer.echo(f"purged {purged.asks} asks, {purged.feedback} feedback, {purged.sessions} sessions "
               f"(older than {purged.before:%Y-%m-%d %H:%M} UTC)")
