"""The per-format parsers: deep nesting, markdown-it specifics, and the layout rule (one owner per module)."""

from __future__ import annotations

import ast
from pathlib import Path

from ingest.formats.html import html_blocks, html_title
from ingest.formats.markdown import markdown_blocks
from ingest.sentences import sentence_spans, split_sentences

INGEST = Path(__file__).resolve().parents[3] / "ingest"


def test_twenty_thousand_nested_divs_do_not_recurse() -> None:
    html = "<html><body>" + "<div>" * 20000 + "deep <b>text</b>" + "</div>" * 20000 + "<p>after</p></body></html>"
    blocks = html_blocks(html)
    assert [(b.kind, b.text, b.char_start, b.char_end) for b in blocks] == [
        ("paragraph", "deep text", 0, 9), ("paragraph", "after", 11, 16)]


def test_deeply_nested_lists_and_title_do_not_recurse() -> None:
    html = "<title>T</title><body>" + "<ul><li>x" * 5000 + "</li></ul>" * 5000 + "</body>"
    blocks = html_blocks(html)
    assert len(blocks) == 5000
    assert {b.text for b in blocks} == {"x"}
    assert html_title("<body>" + "<div>" * 20000 + "<h1>Deep</h1>" + "</div>" * 20000) == "Deep"


def test_markdown_emphasis_closed_by_chinese_punctuation_is_removed() -> None:
    # CommonMark leaves this emphasis unparsed; the words must not keep the asterisks
    assert [b.text for b in markdown_blocks("**注意：**请勿使用充电电池。\n")] == ["注意：请勿使用充电电池。"]


def test_markdown_entities_escapes_and_inline_code() -> None:
    blocks = markdown_blocks("Fish &amp; chips, \\*not\\* bold, `a_b_c` and *real*\n")
    assert [b.text for b in blocks] == ["Fish & chips, *not* bold, a_b_c and real"]


def test_markdown_spans_of_a_quoted_paragraph_start_after_the_marker() -> None:
    md = "Intro.\n\n> Quoted line\n> continues.\n"
    blocks = markdown_blocks(md)
    assert [(b.text, md[b.char_start : b.char_end]) for b in blocks] == [
        ("Intro.", "Intro."), ("Quoted line continues.", "Quoted line\n> continues.")]


def test_markdown_table_in_a_loose_document_ends_at_a_line_without_pipes() -> None:
    md = "| A | B |\n|---|---|\n| 1 | 2 |\nplain after\n\nnext\n"
    blocks = markdown_blocks(md)
    assert [(b.kind, b.text, md[b.char_start : b.char_end]) for b in blocks] == [
        ("table", "A: 1 | B: 2", "| A | B |\n|---|---|\n| 1 | 2 |"),
        ("paragraph", "plain after", "plain after"),
        ("paragraph", "next", "next"),
    ]


def test_one_sentence_splitter_gives_text_and_spans() -> None:
    text = "退款3-5个工作日到账。 Refunds take 3.5 days, e.g. by card! Next"
    assert split_sentences(text) == ["退款3-5个工作日到账。", "Refunds take 3.5 days, e.g. by card!", "Next"]
    assert [text[s:e] for s, e in sentence_spans(text)] == split_sentences(text)


def test_each_ingest_module_opens_with_a_one_line_docstring_and_stays_small() -> None:
    for path in sorted(INGEST.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        assert len(source.splitlines()) < 400, path.name
        doc = ast.get_docstring(ast.parse(source))
        assert doc and doc.strip(), f"{path} has no opening docstring"
