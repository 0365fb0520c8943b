"""The job runner on a fake-embedder knowledge base (done, quarantine, failure, a broken handler), and the disk
checks: the estimate, the refusal, and /readyz turning unready under the free-space floor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.errors import InsufficientStorage, NotReady
from service.disk import check_free_floor, check_ingest_space, ingest_estimate
from service.job_handlers import handlers
from service.jobs import JobRunner


def test_ingest_estimate_is_input_times_factor_plus_vectors() -> None:
    # 1000 bytes x 3 + (1000 // 100 + 1) units x 4 dims x 4 bytes x 2 copies
    assert ingest_estimate(1000, 4, 3.0) == 3000 + 11 * 4 * 4 * 2


def test_space_refused_with_a_clear_message(fake_settings: Any) -> None:
    roomy = fake_settings.model_copy(update={"disk_margin_mb": 0})
    assert check_ingest_space(roomy, 1000, 384) == ingest_estimate(1000, 384, roomy.ingest_space_factor)
    full = fake_settings.model_copy(update={"disk_margin_mb": 10**12})
    with pytest.raises(InsufficientStorage, match=r"not enough disk space under .*KB_DISK_MARGIN_MB"):
        check_ingest_space(full, 1000, 384)
    with pytest.raises(NotReady, match=r"below the floor of 1000000000000 MB \(KB_MIN_FREE_MB\)"):
        check_free_floor(fake_settings.model_copy(update={"min_free_mb": 10**12}))


@pytest.fixture
def runner(fake_kb: Any) -> Any:
    def broken(kb: Any, params: dict[str, Any], progress: Any) -> dict[str, Any]:
        return {"ratio": 1 / 0}

    jobs = JobRunner(fake_kb, {**handlers(), "broken": broken}, poll_s=0.05)
    jobs.start(exclusive=True)
    yield jobs
    jobs.stop()


def test_jobs_done_quarantined_and_failed(runner: JobRunner, tmp_path: Path) -> None:
    faq = tmp_path / "faq.csv"
    faq.write_text("id,question,answer\nok-1,How do I reset it?,Hold the button.\nbad-1,,none\n", encoding="utf-8")
    done = runner.submit("ingest", {"paths": [str(faq)]})
    missing = runner.submit("ingest", {"paths": [str(tmp_path / "missing.csv")]})
    broken = runner.submit("broken", {})
    runner.wait_idle()
    job = runner.get(done.id)
    assert job.state == "done" and job.result is not None and job.result["entries"] == 1
    assert [q["reason"] for q in job.quarantined] == ["missing question"]
    assert job.done == job.total == 2  # the entry's question and answer units
    job = runner.get(missing.id)
    assert (job.state, job.error_code) == ("failed", "bad_input") and "no such file or folder" in (job.error or "")
    job = runner.get(broken.id)
    assert (job.state, job.error_code, job.error) == ("failed", "kb_error", "ZeroDivisionError: division by zero")


def test_uploaded_files_keep_the_clients_name(runner: JobRunner, tmp_path: Path) -> None:
    upload = tmp_path / "uploads" / "x" / "0" / "faq.csv"
    upload.parent.mkdir(parents=True)
    upload.write_text("id,question,answer\nup-1,Where is my parcel?,Track it in the app.\n", encoding="utf-8")
    job = runner.submit("ingest", {"paths": [str(upload)], "names": {str(upload): "/home/eve/faq.csv"},
                                   "upload_dir": str(tmp_path / "uploads" / "x")})
    runner.wait_idle()
    assert runner.get(job.id).result["encodings"] == {"/home/eve/faq.csv": "utf-8"}  # type: ignore[index]
    assert not upload.exists()  # uploads live only as long as their job
