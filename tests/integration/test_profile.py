"""`kb profile`: measured dirtiness before anything is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ingest.profile import profile
from ingest.tickets import load_mapping


def test_profile_of_a_dirty_folder(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    rows = "id,question,answer\n1,怎么开发票,在订单页申请发票。\n2,怎么开发票,在订单页申请发票。\n3,,没有问题\n"
    (folder / "faq.csv").write_bytes(rows.encode("gbk"))
    (folder / "mail.html").write_text("<html><body><p>Hi, call me on 13812345678</p><p>Best regards,</p>"
                                      "<p>Li</p></body></html>", encoding="utf-8")
    report = profile([folder])
    faq = next(f for f in report["files"] if f["file"].endswith("faq.csv"))
    assert faq["encoding"] == "gb18030" and faq["records"] == 3 and faq["duplicate_rate"] == round(1 / 3, 4)
    assert faq["field_fill"] == {"answer": 1.0, "id": 1.0, "question": round(2 / 3, 4)}
    assert faq["quarantine"]["reasons"] == {"missing question": 1}
    assert faq["languages"] == {"zh": 3}
    assert report["totals"]["pii"] == {"PHONE": 1}


def test_profile_cli_on_cfpb(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / "cfpb_complaints" / "complaints_sample.csv"
    r = subprocess.run([sys.executable, "-m", "cli.main", "profile", str(path), "--map", "id=Complaint ID",
                        "--map", "text=Consumer complaint narrative", "--out", str(tmp_path / "p")],
                       capture_output=True, text=True, env={**os.environ, "KB_HOME": str(tmp_path / "kb")})
    assert r.returncode == 0, r.stderr
    assert "would quarantine 1679" in r.stdout and "truncated row" in r.stdout
    data = json.loads((tmp_path / "p" / "profile.json").read_text(encoding="utf-8"))
    f = data["files"][0]
    assert f["records"] == 2068 and f["empty_rate"] > 0.8 and f["field_fill"]["Complaint ID"] < 1.0
    assert "<table>" in (tmp_path / "p" / "profile.html").read_text(encoding="utf-8")
    assert not (tmp_path / "kb").exists()  # nothing written to a knowledge base
    assert load_mapping(None, ["id=Complaint ID", "text=Consumer complaint narrative"]).text
