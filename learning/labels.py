"""Labelled questions learned as phrasings of their entries (``kb calibrate FILE --learn``).

A labelled question (a customer's words and the entry that answers them, confirmed by whoever labelled it) is
the same evidence as an agent confirming an entry on feedback, and the knowledge base learns it the same way:
masked, screened, not a near-duplicate of a phrasing the entry already has, one new version per entry (so a
rollback takes it back). The calibration that follows scores each labelled question without the phrasings
learned from it (``answering.fitting.learned_from_question``), so it sees them as the new questions they stand
for.

What it buys and costs (``eval.bench_answering``, ``calibrated_learning`` against ``calibrated``): many more
questions answered directly (banking77 0.675 -> 0.836 of the answerable ones, clinc150 0.668 -> 0.853), at a
precision that lands lower than the calibration promised (clinc150 0.892 -> 0.844). Scored one at a time, the
labelled questions still find their near-duplicates from the same labelling batch among the phrasings learned
from the others, which new customers' questions do not; so it is an editor's choice, not the default.

Not learned: a question labelled as one to hand off (no gold), one labelled with several entries (which one it
words is not known), one whose gold is a document passage or no entry at all, or an entry that was retired."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from pydantic import BaseModel, Field

from core.store import Store

from .records import EntryStatus
from .versions import EntryWriter


class LabelsLearned(BaseModel):
    """What learning a labelled file did: phrasings added, entries changed, and why the rest were not."""

    learned: int = 0
    entries: int = 0
    skipped: dict[str, int] = Field(default_factory=dict)

    def summary(self) -> str:
        why = ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in sorted(self.skipped.items()))
        return (f"learned {self.learned} labelled question(s) as phrasings of {self.entries} entr"
                f"{'y' if self.entries == 1 else 'ies'}" + (f" (not learned: {why})" if why else ""))


def group_by_entry(store: Store, questions: Sequence[tuple[str, Sequence[str]]],
                   skipped: Counter[str]) -> dict[str, list[str]]:
    """The questions with exactly one gold id that is a stored FAQ entry, by entry (in file order)."""
    by_entry: dict[str, list[str]] = defaultdict(list)
    for question, gold in questions:
        ids = list(dict.fromkeys(gold))
        if not ids:
            skipped["to_hand_off"] += 1
        elif len(ids) > 1:
            skipped["several_entries"] += 1
        elif store.entries.get(ids[0]) is None:
            skipped["not_an_entry"] += 1
        else:
            by_entry[ids[0]].append(question)
    return dict(by_entry)


def learn_labelled(writer: EntryWriter, store: Store, questions: Sequence[tuple[str, Sequence[str]]],
                   origin: str, actor: str | None = None) -> LabelsLearned:
    """Add each labelled question as a phrasing of its one gold entry (see the module docstring)."""
    skipped: Counter[str] = Counter()
    learned = entries = 0
    with writer.lock:
        for entry_id, texts in group_by_entry(store, questions, skipped).items():
            if writer.state(entry_id)[2] == EntryStatus.retired:
                skipped["retired_entry"] += len(texts)
                continue
            n = writer.learn_phrasings(entry_id, texts, origin, actor, skipped)
            learned += n
            entries += 1 if n else 0
    return LabelsLearned(learned=learned, entries=entries, skipped=dict(skipped))
