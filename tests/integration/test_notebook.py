"""The walkthrough notebook runs top to bottom (its code cells, in order, in one namespace)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration


def test_walkthrough_notebook_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_NOTEBOOK_ROWS", "25")
    monkeypatch.chdir(REPO / "notebooks")
    nb = json.loads((REPO / "notebooks" / "walkthrough.ipynb").read_text(encoding="utf-8"))
    namespace: dict[str, object] = {"__name__": "__notebook__"}
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), "walkthrough.ipynb", "exec"), namespace)
    result = namespace["result"]
    assert isinstance(result, dict) and result["metrics"]["decisions"]["n"] == 25
    assert (namespace["HOME"] / "report" / "report.html").is_file()  # type: ignore[operator]
