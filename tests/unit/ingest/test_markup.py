"""Markdown / plain text / HTML to blocks: exact kinds, texts, section paths and spans."""

from __future__ import annotations

import re

import pytest

from ingest.formats.blocks import Block
from ingest.formats.front_matter import parse_front_matter
from ingest.formats.html import html_blocks, html_title
from ingest.formats.markdown import markdown_blocks
from ingest.formats.text import text_blocks


def summary(blocks: list[Block]) -> list[tuple[str, tuple[str, ...], str]]:
    return [(b.kind, b.section_path, b.text) for b in blocks]


def texts(blocks: list[Block]) -> list[str]:
    return [b.text for b in blocks]


# ------------------------------------------------------------------------------------------ front matter


def test_front_matter_is_parsed_and_removed() -> None:
    meta, body = parse_front_matter("---\nid: doc-1\ntitle: 门锁说明\ntags: [a, b]\n---\n# 门锁说明\n")
    assert meta == {"id": "doc-1", "title": "门锁说明", "tags": ["a", "b"]}
    assert body == "# 门锁说明\n"


def test_front_matter_after_bom_with_crlf_and_dots_closer() -> None:
    meta, body = parse_front_matter("\ufeff---\r\ntitle: Hub\r\n...\r\nBody\r\n")
    assert meta == {"title": "Hub"}
    assert body == "Body\r\n"


def test_empty_front_matter_is_an_empty_mapping() -> None:
    assert parse_front_matter("---\n---\ntext") == ({}, "text")


@pytest.mark.parametrize("text", ["# Title\n---\nx: 1\n---\n", "plain text", "", " ---\nx: 1\n---\n"])
def test_no_front_matter_returns_the_text_unchanged(text: str) -> None:
    assert parse_front_matter(text) == ({}, text)


def test_malformed_yaml_names_the_problem() -> None:
    expected = "malformed YAML front matter: expected ',' or ']', but got ':' (line 3, column 5)"
    with pytest.raises(ValueError, match=re.escape(expected)):
        parse_front_matter("---\ntitle: [unclosed\ntags: x\n---\nbody")


def test_front_matter_must_be_a_mapping() -> None:
    with pytest.raises(ValueError, match=r"must be a YAML mapping, got list: \['a', 'b'\]"):
        parse_front_matter("---\n- a\n- b\n---\nbody")


def test_unclosed_front_matter_is_an_error() -> None:
    with pytest.raises(ValueError, match="never closed"):
        parse_front_matter("---\ntitle: x\nbody without a closing line\n")


# -------------------------------------------------------------------------------------------- markdown

ZH_DOC = """# 智能门锁 L7 电池说明

门锁使用4节5号碱性电池。
电量低于20%时，App会推送提醒。

## 应急开门

如果电池完全耗尽：
- 使用机械钥匙开门。
- 用 USB-C 充电宝接入底部
  应急口，再按指纹开门。

## 指示灯

| 颜色 | 含义 | 处理 |
|---|:---:|---|
| 红色闪烁 | 电量低 | 更换电池 |
| 绿色常亮 | 开锁成功 | |
"""


def test_markdown_chinese_article() -> None:
    top = ("智能门锁 L7 电池说明",)
    sos, led = (*top, "应急开门"), (*top, "指示灯")
    assert summary(markdown_blocks(ZH_DOC)) == [
        ("heading", top, "智能门锁 L7 电池说明"),
        ("paragraph", top, "门锁使用4节5号碱性电池。电量低于20%时，App会推送提醒。"),
        ("heading", sos, "应急开门"),
        ("paragraph", sos, "如果电池完全耗尽："),
        ("list_item", sos, "使用机械钥匙开门。"),
        ("list_item", sos, "用 USB-C 充电宝接入底部应急口，再按指纹开门。"),
        ("heading", led, "指示灯"),
        ("table", led, "颜色: 红色闪烁 | 含义: 电量低 | 处理: 更换电池\n颜色: 绿色常亮 | 含义: 开锁成功"),
    ]


def test_markdown_spans_point_at_the_source() -> None:
    blocks = markdown_blocks(ZH_DOC)
    assert [ZH_DOC[b.char_start : b.char_end] for b in blocks] == [
        "# 智能门锁 L7 电池说明",
        "门锁使用4节5号碱性电池。\n电量低于20%时，App会推送提醒。",
        "## 应急开门",
        "如果电池完全耗尽：",
        "- 使用机械钥匙开门。",
        "- 用 USB-C 充电宝接入底部\n  应急口，再按指纹开门。",
        "## 指示灯",
        "| 颜色 | 含义 | 处理 |\n|---|:---:|---|\n| 红色闪烁 | 电量低 | 更换电池 |\n"
        "| 绿色常亮 | 开锁成功 | |",
    ]


def test_heading_levels_and_paths() -> None:
    md = "# A\n## B\n### C\ntext c\n## D ##\ntext d\n# E\ntext e\n"
    blocks = markdown_blocks(md)
    assert [(b.kind, b.level, b.section_path) for b in blocks] == [
        ("heading", 1, ("A",)),
        ("heading", 2, ("A", "B")),
        ("heading", 3, ("A", "B", "C")),
        ("paragraph", 0, ("A", "B", "C")),
        ("heading", 2, ("A", "D")),
        ("paragraph", 0, ("A", "D")),
        ("heading", 1, ("E",)),
        ("paragraph", 0, ("E",)),
    ]


def test_setext_headings() -> None:
    md = "Setting up\n==========\n\nIntro.\n\nWi-Fi *setup*\n---\nText.\n"
    assert [(b.kind, b.level, b.section_path, b.text) for b in markdown_blocks(md)] == [
        ("heading", 1, ("Setting up",), "Setting up"),
        ("paragraph", 0, ("Setting up",), "Intro."),
        ("heading", 2, ("Setting up", "Wi-Fi setup"), "Wi-Fi setup"),
        ("paragraph", 0, ("Setting up", "Wi-Fi setup"), "Text."),
    ]


def test_thematic_break_is_not_a_heading_without_a_paragraph() -> None:
    assert summary(markdown_blocks("One.\n\n---\n\nTwo.\n\n***\n")) == [
        ("paragraph", (), "One."), ("paragraph", (), "Two.")]


@pytest.mark.parametrize(("line", "expected"), [
    ("Press **Reset** and *hold* it", "Press Reset and hold it"),
    ("Use __strong__ and _emph_ but keep snake_case_names", "Use strong and emph but keep snake_case_names"),
    ("***both*** and ~~old~~", "both and old"),
    ("Run `kb-hub reset --all` now", "Run kb-hub reset --all now"),
    ("Code keeps `**stars**` as typed", "Code keeps **stars** as typed"),
    ("See [LED codes](https://x.com/led_(v2) \"LED\") and [the FAQ][faq]", "See LED codes and the FAQ"),
    ("Front ![Hub front](img/hub.png) view", "Front view"),
    ("Mail <help@example.com> or <https://example.com/a_b>", "Mail help@example.com or https://example.com/a_b"),
    ("Inline <b>HTML</b> tags<!-- note --> go", "Inline HTML tags go"),
    ("Literal \\*stars\\* and \\_under\\_", "Literal *stars* and _under_"),
    ("2 * 3 * 4 = 24", "2 * 3 * 4 = 24"),
    ("Footnote[^1] here", "Footnote here"),
])
def test_inline_markup_is_stripped_words_kept(line: str, expected: str) -> None:
    assert texts(markdown_blocks(line)) == [expected]


def test_list_items_multi_line_nested_numbered_and_tasks() -> None:
    md = """Steps:
1. Open the app
   and sign in.
2. Add the hub.

   Keep the phone close.
   - nested **bullet**
   - [x] a done task
3) Finish.

- a
+ b

1. one
1. two
1. three
"""
    assert texts(markdown_blocks(md)) == [
        "Steps:",
        "1. Open the app and sign in.",
        "2. Add the hub.\nKeep the phone close.",
        "nested bullet",
        "a done task",
        "3. Finish.",
        "a",
        "b",
        "1. one",
        "2. two",
        "3. three",
    ]
    assert {b.kind for b in markdown_blocks(md)[1:]} == {"list_item"}


def test_a_number_in_wrapped_text_does_not_start_a_list() -> None:
    assert texts(markdown_blocks("The warranty started in\n2023. It lasts two years.\n")) == [
        "The warranty started in 2023. It lasts two years."]


def test_tables() -> None:
    md = """| Code | Meaning | Fix |
|------|---------|-----|
| E101 | Wi-Fi password **wrong** | Re-enter it |
| E102 | Pipe \\| inside | |
| E103 |
| E104 | a | b | extra |
"""
    assert texts(markdown_blocks(md)) == [
        "Code: E101 | Meaning: Wi-Fi password wrong | Fix: Re-enter it\n"
        "Code: E102 | Meaning: Pipe | inside\n"
        "Code: E103\n"
        "Code: E104 | Meaning: a | Fix: b | extra"
    ]


def test_table_without_header_text_and_header_only_table() -> None:
    assert texts(markdown_blocks("| | |\n|---|---|\n| Weight | 2 kg |\n")) == ["Weight | 2 kg"]
    assert texts(markdown_blocks("| Model | Year |\n|---|---|\n")) == ["Model | Year"]


def test_table_interrupts_a_paragraph_and_ends_at_a_line_without_pipes() -> None:
    md = "Error codes below.\nCode | Fix\n--- | ---\nE1 | Clean the wheel\nAfter the table.\n## Next\n"
    assert summary(markdown_blocks(md)) == [
        ("paragraph", (), "Error codes below."),
        ("table", (), "Code: E1 | Fix: Clean the wheel"),
        ("paragraph", (), "After the table."),
        ("heading", ("Next",), "Next"),
    ]


def test_fenced_code_is_kept_verbatim() -> None:
    md = "Run:\n\n  ```bash\n  kb-hub reset **now**\n    --factory\n  ```\n\n~~~\n# not a heading\n~~~\n"
    blocks = markdown_blocks(md)
    assert summary(blocks) == [
        ("paragraph", (), "Run:"),
        ("code", (), "kb-hub reset **now**\n  --factory"),
        ("code", (), "# not a heading"),
    ]
    source = md[blocks[1].char_start : blocks[1].char_end]
    assert source == "```bash\n  kb-hub reset **now**\n    --factory\n  ```"


def test_unclosed_fence_runs_to_the_end() -> None:
    assert summary(markdown_blocks("```\nline 1\n\nline 2\n")) == [("code", (), "line 1\n\nline 2")]


def test_block_quotes_alerts_comments_and_reference_definitions() -> None:
    md = """> **Note:** unplug first.
> Then wait.
>
> Second paragraph.

> [!WARNING]
> Hot surface.

<!-- editor: check
this later -->
[faq]: https://example.com/faq

Done.
"""
    assert texts(markdown_blocks(md)) == [
        "Note: unplug first. Then wait.", "Second paragraph.", "Warning: Hot surface.", "Done."]


def test_hard_line_break_is_kept() -> None:
    blocks = markdown_blocks("Line one  \nLine two\\\nLine three\n")
    assert texts(blocks) == ["Line one\nLine two\nLine three"]


def test_bom_and_empty_input() -> None:
    blocks = markdown_blocks("\ufeff# Title\nText")
    assert summary(blocks) == [("heading", ("Title",), "Title"), ("paragraph", ("Title",), "Text")]
    assert (blocks[0].char_start, blocks[0].char_end) == (1, 8)
    assert markdown_blocks("") == []
    assert markdown_blocks(" \n\n\t\n") == []


def test_image_only_paragraph_and_empty_heading_produce_nothing() -> None:
    assert markdown_blocks("![diagram](d.png)\n\n#\n") == []


# ------------------------------------------------------------------------------------------ plain text


def test_plain_text_paragraphs_and_an_obvious_title() -> None:
    txt = "RoboClean V9 maintenance\n\nEmpty the bin after every run.\nClean the brush weekly.\n\n" \
          "请用软毛刷清理滤网，不要用水\n冲洗。\n"
    blocks = text_blocks(txt)
    title = ("RoboClean V9 maintenance",)
    assert [(b.kind, b.level, b.section_path, b.text) for b in blocks] == [
        ("heading", 1, title, "RoboClean V9 maintenance"),
        ("paragraph", 0, title, "Empty the bin after every run. Clean the brush weekly."),
        ("paragraph", 0, title, "请用软毛刷清理滤网，不要用水冲洗。"),
    ]
    assert [txt[b.char_start : b.char_end] for b in blocks] == [
        "RoboClean V9 maintenance", "Empty the bin after every run.\nClean the brush weekly.",
        "请用软毛刷清理滤网，不要用水\n冲洗。"]


def test_plain_text_later_headings_are_level_two() -> None:
    txt = ("Intro paragraph here.\n\nFilters\n\nReplace the filter every three months.\n\n"
           "滤网清洁\n\n请每周清洁一次滤网。\n")
    assert [(b.kind, b.level, b.section_path) for b in text_blocks(txt)] == [
        ("paragraph", 0, ()),
        ("heading", 2, ("Filters",)),
        ("paragraph", 0, ("Filters",)),
        ("heading", 2, ("滤网清洁",)),
        ("paragraph", 0, ("滤网清洁",)),
    ]


@pytest.mark.parametrize("txt", [
    "Dear customer,\n\nThank you for your order.",  # punctuation: a salutation, not a heading
    "Steps:\n\nOpen the app and sign in.",  # a lead-in
    "Thanks\n\nOK",  # what follows is not prose
    "Thanks for choosing CloudNest",  # nothing follows
    "see below\n\nThe filter must be dry.",  # lower case
    "1. Remove the bin\n\nThen pull out the filter.",  # a list item
    "https://example.com/help\n\nOpen this page in a browser.",  # a link
    "This line is much too long to be a heading even without punctuation at the end of it\n\nText follows.",
    "Short title\n\ncontinues in lower case.",  # the next paragraph continues this one
])
def test_plain_text_heading_detection_is_conservative(txt: str) -> None:
    assert {b.kind for b in text_blocks(txt)} == {"paragraph"}


def test_plain_text_underlined_headings() -> None:
    txt = "Hub X2 guide\n============\n\nPower\n-----\n\nPlug it in.\n"
    assert [(b.kind, b.level, b.section_path, b.text) for b in text_blocks(txt)] == [
        ("heading", 1, ("Hub X2 guide",), "Hub X2 guide"),
        ("heading", 2, ("Hub X2 guide", "Power"), "Power"),
        ("paragraph", 0, ("Hub X2 guide", "Power"), "Plug it in."),
    ]


def test_plain_text_list_lines_stay_on_their_own_lines() -> None:
    txt = "Do this:\n1. Remove the bin.\n2. Pull out the\nfilter.\n- rinse\n（1）晾干\n2、装回\n"
    assert texts(text_blocks(txt)) == [
        "Do this:\n1. Remove the bin.\n2. Pull out the filter.\n- rinse\n（1）晾干\n2、装回"]


def test_plain_text_markup_is_left_alone() -> None:
    blocks = text_blocks("Use **this** [link](x).\n\n\n\n   \nNext.")
    assert texts(blocks) == ["Use **this** [link](x).", "Next."]


# ------------------------------------------------------------------------------------------------ HTML

PAGE = """<!DOCTYPE html>
<html><head><title>  Returns
  policy | CloudNest </title><style>p { color: red }</style><script>var x = "Returns";</script></head>
<body>
<header class="banner"><a href="/">CloudNest</a></header>
<nav><a href="/">Home</a> | <a href="/help">Help</a></nav>
<div role="navigation">You are here: Help</div>
<main>
<h1>Returns <a href="#top">policy</a></h1>
Loose text with <b>bold</b> words
<div>退货须知：
请在七天内
申请退货。<!-- hidden comment --><span hidden>secret</span></div>
<p>Return within <b>7 days</b>.<br>Defective items: 15 days.</p>
<h2>Refund times</h2>
<table><caption>Refunds</caption>
<thead><tr><th>Payment</th><th>Refund time</th></tr></thead>
<tbody><tr><td>Card</td><td>3-5 business days</td></tr><tr><td>Wallet</td><td>1 day</td></tr></tbody>
</table>
<h3>Steps</h3>
<ol start="2"><li>Open <em>My orders</em><ul><li>web</li><li>app</li></ul></li>
<li><p>Print the label.</p><p>Tape it on.</p></li></ol>
<pre><code>kb-order return 123
  --reason broken</code></pre>
<form><label>Was this helpful?</label><button>Yes</button></form>
<img src="x.png" alt="screenshot">
</main>
<footer>© CloudNest</footer><script>track();</script>
</body></html>"""


def test_html_blocks() -> None:
    top, refunds, steps = ("Returns policy",), ("Returns policy", "Refund times"), \
        ("Returns policy", "Refund times", "Steps")
    assert summary(html_blocks(PAGE)) == [
        ("heading", top, "Returns policy"),
        ("paragraph", top, "Loose text with bold words"),
        ("paragraph", top, "退货须知：请在七天内申请退货。"),
        ("paragraph", top, "Return within 7 days.\nDefective items: 15 days."),
        ("heading", refunds, "Refund times"),
        ("paragraph", refunds, "Refunds"),
        ("table", refunds,
         "Payment: Card | Refund time: 3-5 business days\nPayment: Wallet | Refund time: 1 day"),
        ("heading", steps, "Steps"),
        ("list_item", steps, "2. Open My orders"),
        ("list_item", steps, "web"),
        ("list_item", steps, "app"),
        ("list_item", steps, "3. Print the label.\nTape it on."),
        ("code", steps, "kb-order return 123\n  --reason broken"),
    ]


def test_html_spans_are_offsets_in_the_extracted_text() -> None:
    blocks = html_blocks(PAGE)
    extracted = "\n\n".join(b.text for b in blocks)
    assert [extracted[b.char_start : b.char_end] for b in blocks] == [b.text for b in blocks]
    assert [(b.char_start, b.char_end) for b in blocks[:3]] == [(0, 14), (16, 42), (44, 59)]


def test_html_table_header_variants() -> None:
    first_row_th = "<table><tr><th>Code</th><th>Fix</th></tr><tr><td>E1</td><td>Wipe</td></tr></table>"
    key_value = "<table><tr><th>Weight</th><td>2 kg</td></tr><tr><th>Size</th><td>30 cm</td></tr></table>"
    headerless = "<table><tr><td>E1</td><td>Wipe</td></tr><tr><td>E2</td><td></td></tr></table>"
    colspan = ("<table><thead><tr><th>Model</th><th colspan='2'>Battery</th><th>Note</th></tr></thead>"
               "<tr><td>V9</td><td>5200 mAh</td><td>180 min</td><td>new</td></tr>"
               "<tr><td colspan='3'>V8 (discontinued)</td><td>old</td></tr>"
               "<tr><th>Model</th><th>Battery</th><th>Battery</th><th>Note</th></tr></table>")
    nested = "<table><tr><th>Q</th></tr><tr><td>A <table><tr><td>inner</td></tr></table></td></tr></table>"
    assert texts(html_blocks(first_row_th)) == ["Code: E1 | Fix: Wipe"]
    assert texts(html_blocks(key_value)) == ["Weight: 2 kg\nSize: 30 cm"]
    assert texts(html_blocks(headerless)) == ["E1 | Wipe\nE2"]
    assert texts(html_blocks(colspan)) == [
        "Model: V9 | Battery: 5200 mAh | Battery: 180 min | Note: new\nModel: V8 (discontinued) | Note: old"]
    assert texts(html_blocks(nested)) == ["Q: A inner"]


def test_html_fragment_without_body_and_empty_input() -> None:
    assert summary(html_blocks("<h2>FAQ</h2>Just <i>text</i><li>orphan item</li>")) == [
        ("heading", ("FAQ",), "FAQ"),
        ("paragraph", ("FAQ",), "Just text"),
        ("list_item", ("FAQ",), "orphan item"),
    ]
    assert html_blocks("") == []
    assert html_blocks("<script>only()</script>") == []


def test_html_article_header_with_its_heading_is_kept() -> None:
    html = "<header><a>logo</a></header><article><header><h1>Title</h1></header><p>Body.</p></article>"
    assert summary(html_blocks(html)) == [
        ("heading", ("Title",), "Title"), ("paragraph", ("Title",), "Body.")]


@pytest.mark.parametrize(("html", "title"), [
    (PAGE, "Returns policy | CloudNest"),
    ("<html><head></head><body><h1>Hub  <b>X2</b></h1><p>x</p></body></html>", "Hub X2"),
    ("<svg><title>icon</title></svg><p>No title here.</p>", None),
    ("<title>   </title>", None),
    ("", None),
])
def test_html_title(html: str, title: str | None) -> None:
    assert html_title(html) == title


def test_block_is_frozen_and_validated() -> None:
    block = Block(kind="paragraph", text="x", section_path=(), char_start=0, char_end=1)
    with pytest.raises(ValueError):
        block.text = "y"  # type: ignore[misc]
    with pytest.raises(ValueError):
        Block(kind="quote", text="x", section_path=(), char_start=0, char_end=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Block(kind="paragraph", text="x", section_path=(), char_start=-1, char_end=1)
