"""``kb review``: candidates and flagged entries with their evidence, and the editors' actions on them
(approve, edit, merge, reject a candidate; edit, merge, retire, dismiss, roll back an entry), directly or
through the server that owns the knowledge base."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cli.common import AsJson, echo_json, editor, opened, server, settings
from core.errors import NotFound
from learning.records import CandidateView, EntryView, FlaggedEntry

app = typer.Typer(no_args_is_help=False, help="Review learned knowledge: candidates and flagged entries.")

Editor = Annotated[str, typer.Option("--by", help="Who is reviewing (recorded in the history); default $USER.")]
Question = Annotated[str | None, typer.Option(help="New question text.")]
AnswerText = Annotated[str | None, typer.Option("--answer", help="New answer text.")]
Note = Annotated[str | None, typer.Option(help="Why (kept in the history).")]


def _print_candidate(c: CandidateView) -> None:
    typer.echo(f"{c.count:>4}x  {c.id}  [{c.status}; {c.source}; team {c.team or '-'}; "
               f"answers agree {c.consistency:.0%}]")
    typer.echo(f"       Q: {c.question[:100]}")
    for ex in [e for e in c.examples if e != c.question][:3]:
        typer.echo(f"          also: {ex[:100]}")
    typer.echo(f"       A: {c.answer[:160]}")
    for other in c.answers[1:3]:
        typer.echo(f"          other answer: {other[:120]}")


@app.callback(invoke_without_command=True)
def review(
    ctx: typer.Context,
    status: Annotated[str, typer.Option(help="Candidates with this status: review, approved, merged, "
                                             "rejected, promoted, or all.")] = "review",
    limit: Annotated[int, typer.Option()] = 20,
    as_json: AsJson = False,
) -> None:
    """List candidates (from agents' resolutions and tickets) and flagged entries, with their evidence.

    Then: kb review approve|edit|merge|reject CANDIDATE, kb review edit|merge|retire|dismiss|history|rollback ENTRY."""
    if ctx.invoked_subcommand is not None:
        return
    config = settings()
    client = server(config)
    if client is not None:
        cands = [CandidateView.model_validate(c) for c in client.get("/v1/candidates", status=status, limit=limit)]
        flagged = [FlaggedEntry.model_validate(f) for f in client.get("/v1/entries/flagged")]
    else:
        with opened(config) as kb:
            cands = kb.curator.candidates(None if status == "all" else status, limit)
            flagged = kb.curator.flagged()
    if as_json:
        echo_json({"candidates": [c.model_dump() for c in cands], "flagged": [f.model_dump() for f in flagged]})
        return
    typer.echo(f"{len(cands)} candidate(s) with status {status}:" if cands else f"no candidates with status {status}")
    for c in cands:
        _print_candidate(c)
    typer.echo(f"{len(flagged)} flagged entr{'y' if len(flagged) == 1 else 'ies'}" + (":" if flagged else ""))
    for f in flagged:
        typer.echo(f"{f.negative:>4}x not helpful  {f.entry_id}  Q: {f.question[:80]}")
        for q in f.demoted_for[:3]:
            typer.echo(f"       demoted for: {q[:100]}")
        for comment in f.comments[:2]:
            typer.echo(f"       comment: {comment[:100]}")


CANDIDATE_ONLY = {"approve", "reject"}
ENTRY_ONLY = {"retire", "dismiss", "rollback"}


def _act(target: str, action: str, by: str, **kw: Any) -> None:
    """Apply a review action and print the result. approve/reject act on candidates only and
    retire/dismiss/rollback on entries only (an id of the other kind is an error, never a different action);
    edit and merge act on the candidate with that id, else the entry."""
    who = editor(by)
    config = settings()
    client = server(config)
    out: CandidateView | EntryView
    if client is not None:
        is_candidate = _remote_is_candidate(client, target) if action not in ENTRY_ONLY else False
        _check_kind(target, action, is_candidate)
        body = {"action": action, "editor": who, **{k: v for k, v in kw.items() if k != "as_json" and v is not None}}
        if is_candidate:
            out = CandidateView.model_validate(client.post(f"/v1/candidates/{target}", body))
        else:
            out = EntryView.model_validate(client.post(f"/v1/entries/{target}", body))
    else:
        with opened(config) as kb:
            is_candidate = action not in ENTRY_ONLY and kb.store.learning.get_candidate(target) is not None
            _check_kind(target, action, is_candidate)
            if is_candidate:
                out = kb.curator.act_on_candidate(target, action, who, kw.get("question"), kw.get("answer"),
                                                  kw.get("into"), kw.get("note"))
            else:
                out = kb.curator.act_on_entry(target, action, who, kw.get("question"), kw.get("answer"),
                                              kw.get("into"), kw.get("version"), kw.get("note"))
    if kw.get("as_json"):
        echo_json(out.model_dump())
    elif isinstance(out, CandidateView):
        typer.echo(f"candidate {out.id}: {out.status}" + (f" -> entry {out.entry_id}" if out.entry_id else ""))
    else:
        last = out.versions[-1] if out.versions else None
        typer.echo(f"entry {out.id}: {out.status}" + (f", v{last.version} ({last.provenance} by {last.actor})"
                                                       if last else ""))


def _remote_is_candidate(client: Any, target: str) -> bool:
    try:
        client.get(f"/v1/candidates/{target}")
    except NotFound:
        return False
    return True


def _check_kind(target: str, action: str, is_candidate: bool) -> None:
    if action in CANDIDATE_ONLY and not is_candidate:
        hint = " (to take an entry out of the live index: kb review retire ENTRY)" if action == "reject" else ""
        raise NotFound(f"no candidate {target!r}{hint}")


@app.command("approve")
def review_approve(candidate: str, by: Editor = "", question: Question = None, answer: AnswerText = None,
                   as_json: AsJson = False) -> None:
    """A candidate becomes a live entry (optionally with edited question/answer)."""
    _act(candidate, "approve", by, question=question, answer=answer, as_json=as_json)


@app.command("edit")
def review_edit(target: str, by: Editor = "", question: Question = None, answer: AnswerText = None,
                note: Note = None, as_json: AsJson = False) -> None:
    """Edit a candidate, or an entry (a new version; a flagged entry goes live again)."""
    _act(target, "edit", by, question=question, answer=answer, note=note, as_json=as_json)


@app.command("merge")
def review_merge(target: str, into: str, by: Editor = "", as_json: AsJson = False) -> None:
    """Merge a candidate into another candidate or an entry, or an entry into another entry."""
    _act(target, "merge", by, into=into, as_json=as_json)


@app.command("reject")
def review_reject(candidate: str, by: Editor = "", note: Note = None, as_json: AsJson = False) -> None:
    """Reject a candidate (an entry is taken out of the live index with `kb review retire`)."""
    _act(candidate, "reject", by, note=note, as_json=as_json)


@app.command("retire")
def review_retire(entry: str, by: Editor = "", note: Note = None, as_json: AsJson = False) -> None:
    """Retire an entry from the live index (a rollback restores it)."""
    _act(entry, "retire", by, note=note, as_json=as_json)


@app.command("dismiss")
def review_dismiss(entry: str, by: Editor = "", note: Note = None, as_json: AsJson = False) -> None:
    """A flagged entry was right: end its demotions."""
    _act(entry, "dismiss", by, note=note, as_json=as_json)


@app.command("rollback")
def review_rollback(entry: str, version: int, by: Editor = "", note: Note = None, as_json: AsJson = False) -> None:
    """Restore an entry to an earlier version (as a new version)."""
    _act(entry, "rollback", by, version=version, note=note, as_json=as_json)


@app.command("history")
def review_history(entry: str, as_json: AsJson = False) -> None:
    """An entry's versions: what changed, where it came from, who, when."""
    config = settings()
    client = server(config)
    if client is not None:
        out = EntryView.model_validate(client.get(f"/v1/entries/{entry}"))
    else:
        with opened(config) as kb:
            out = kb.curator.entry_out(entry)
    if as_json:
        echo_json(out.model_dump())
        return
    typer.echo(f"{out.id} ({out.status}; {out.source})")
    for v in out.versions:
        typer.echo(f"  v{v.version}  {v.created_at[:19]}  {v.provenance:<16} {v.actor or '-':<20} "
                   f"{v.status:<8} {len(v.learned)} learned  A: {v.answer[:60]}")

