"""Progress reporting for long work, without a UI: the CLI passes a tqdm-backed factory, jobs their own."""

from __future__ import annotations

from collections.abc import Callable


class Progress:
    """Minimal progress sink: ``update`` with work done, ``close`` at the end."""

    def update(self, n: int = 1) -> None:
        return None

    def close(self) -> None:
        return None


ProgressFactory = Callable[[int, str], Progress]
"""(total, label) -> a progress sink."""
