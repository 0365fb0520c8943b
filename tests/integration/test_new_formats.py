"""E-mail, slides, EPUB, RTF, ODT and XML (unstructured partitioners, offline) through `kb ingest` and
`kb profile`, from fixtures built here; a .msg that cannot be read is quarantined with a reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest

from ingest.formats.partitioned import elements_html, unavailable
from ingest.readers import read_document

pytestmark = pytest.mark.integration


def build_formats(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    mail = EmailMessage()
    mail["Subject"], mail["From"], mail["To"] = "Refund for order 1234", "ann@example.com", "help@example.com"
    mail.set_content("Hello,\n\nHow long does a refund take once the parcel is back?\n\n"
                     "Refunds reach the card within 5 business days.\n")
    (folder / "refund.eml").write_bytes(bytes(mail))
    from pptx import Presentation

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "Reset the hub"
    slide.placeholders[1].text = "Hold the reset button for 10 seconds.\nThe LED turns amber."
    deck.save(str(folder / "hub.pptx"))
    (folder / "pairing.xml").write_text("<faq><item><q>How do I pair the lock?</q><a>Open the app and tap Add "
                                        "device.</a></item></faq>", encoding="utf-8")
    (folder / "warranty.rtf").write_text("{\\rtf1\\ansi{\\fonttbl\\f0\\fswiss Helvetica;}\\f0\\pard The warranty "
                                         "lasts two years from delivery.\\par}", encoding="ascii")
    import pypandoc

    pypandoc.convert_text("# Shipping\n\nParcels ship within 24 hours on weekdays.", "epub", format="md",
                          outputfile=str(folder / "shipping.epub"))
    pypandoc.convert_text("# Returns\n\nReturn an item within 30 days for a full refund.", "odt", format="md",
                          outputfile=str(folder / "returns.odt"))
    (folder / "broken.msg").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 40)  # OLE header, cut off


EXPECTED_CHUNKS = {
    "refund.eml": "Refund for order 1234\nHello,\nHow long does a refund take once the parcel is back?\n"
                  "Refunds reach the card within 5 business days.",
    "hub.pptx": "Reset the hub\nHold the reset button for 10 seconds.\nThe LED turns amber.",
    "pairing.xml": "pairing\nHow do I pair the lock?\nOpen the app and tap Add device.",
    "warranty.rtf": "warranty\nThe warranty lasts two years from delivery.",
    "shipping.epub": "Shipping\nParcels ship within 24 hours on weekdays.",
    "returns.odt": "Returns\nReturn an item within 30 days for a full refund.",
}


def kb(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KB_HOME": str(home), "KB_EMBEDDER": "fake", "KB_ENGLISH_EMBEDDER": "none"}
    return subprocess.run([sys.executable, "-m", "cli.main", *args], env=env, capture_output=True, text=True,
                          timeout=300)


def test_each_new_format_reads_to_the_expected_chunk(tmp_path: Path) -> None:
    from ingest.units import document_units

    build_formats(tmp_path)
    got = {}
    for name in EXPECTED_CHUNKS:
        doc, decoded = read_document(tmp_path / name, name)
        assert decoded.encoding == Path(name).suffix[1:]
        got[name] = [u.text for u in document_units(doc)]
    assert got == {name: [text] for name, text in EXPECTED_CHUNKS.items()}


def test_elements_map_onto_blocks() -> None:
    from unstructured.documents.elements import ElementMetadata, ListItem, NarrativeText, Table, Title

    table = Table("Code Meaning E1 Low battery", metadata=ElementMetadata(
        text_as_html="<table><tr><th>Code</th><th>Meaning</th></tr><tr><td>E1</td><td>Low battery</td></tr></table>"))
    html = elements_html([Title("Lock", metadata=ElementMetadata(category_depth=0)), NarrativeText("Intro."),
                          ListItem("Open the app"), ListItem("Tap Add"), table, Title("Thanks")])
    from ingest.formats.html import html_blocks

    assert [(b.kind, b.section_path, b.text) for b in html_blocks(html)] == [
        ("heading", ("Lock",), "Lock"), ("paragraph", ("Lock",), "Intro."),
        ("list_item", ("Lock",), "Open the app"), ("list_item", ("Lock",), "Tap Add"),
        ("table", ("Lock",), "Code: E1 | Meaning: Low battery"), ("paragraph", ("Lock",), "Thanks")]


def test_every_new_format_is_available_offline_here() -> None:
    assert {s: unavailable(s) for s in (".eml", ".msg", ".pptx", ".epub", ".rtf", ".odt", ".xml")} == dict.fromkeys(
        (".eml", ".msg", ".pptx", ".epub", ".rtf", ".odt", ".xml"))


def test_new_formats_through_kb_ingest_and_kb_profile(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    build_formats(folder)
    run = kb("ingest", str(folder), "--json", home=tmp_path / "kb")
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report["documents"] == 6 and report["files"] == 7
    assert [(Path(q["source"]).name, q["location"]) for q in report["quarantined"]] == [("broken.msg", "file")]
    assert report["quarantined"][0]["reason"].startswith("cannot read MSG file: ")
    assert {Path(k).name: v for k, v in report["encodings"].items()} == {
        name: Path(name).suffix[1:] for name in EXPECTED_CHUNKS}

    found = kb("search", "how long is the warranty", "--json", home=tmp_path / "kb")
    assert found.returncode == 0, found.stderr
    assert "The warranty lasts two years" in found.stdout

    prof = kb("profile", str(folder), "--json", "--out", str(tmp_path / "profile"), home=tmp_path / "kb")
    assert prof.returncode == 0, prof.stderr
    files = {Path(f["file"]).name: f for f in json.loads(prof.stdout)["files"]}
    assert {n: (f["kind"], f["records"], f["quarantine"]["count"]) for n, f in files.items()} == {
        **{n: ("document", 1, 0) for n in EXPECTED_CHUNKS}, "broken.msg": ("document", 0, 1)}
    assert files["hub.pptx"]["html_rate"] == 0.0  # measured on the words, not on the HTML written from them
