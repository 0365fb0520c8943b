"""Sentence splitting, token estimates and structure-aware chunk packing: exact outputs."""

from __future__ import annotations

import random

import pytest

from ingest.chunking import CHUNKER_VERSION, ChunkDraft, approx_tokens, chunk_blocks, split_sentences
from ingest.formats.blocks import Block, BlockKind
from ingest.formats.markdown import markdown_blocks


def block(text: str, kind: BlockKind = "paragraph", path: tuple[str, ...] = (), start: int = 0,
          end: int | None = None) -> Block:
    return Block(kind=kind, text=text, section_path=path, char_start=start,
                 char_end=start + len(text) if end is None else end)


def chunk_texts(chunks: list[ChunkDraft]) -> list[str]:
    return [c.text for c in chunks]


# -------------------------------------------------------------------------------------------- sentences


@pytest.mark.parametrize(("text", "sentences"), [
    # Chinese: 。！？；… end a sentence anywhere; repeated marks and closing quotes/brackets stay with it
    ("门锁使用4节5号电池。电量低于20%时，App会推送提醒；请在两周内更换！好吗？",
     ["门锁使用4节5号电池。", "电量低于20%时，App会推送提醒；", "请在两周内更换！", "好吗？"]),
    ("他说：“好的。”然后离开了（真的！）。最后……结束",
     ["他说：“好的。”", "然后离开了（真的！）。", "最后……", "结束"]),
    ("真的吗？！「可以。」好｡下一步．完成", ["真的吗？！", "「可以。」", "好｡", "下一步．", "完成"]),
    # English: decimals, abbreviations, URLs, versions, ordinals do not split
    ("The LED turns amber within 10 s. Wait 3.5 minutes! Is it green? Yes.",
     ["The LED turns amber within 10 s.", "Wait 3.5 minutes!", "Is it green?", "Yes."]),
    ("Open the app, e.g. on iOS 17. Then tap Add, i.e. the plus. Mr. Smith agreed.",
     ["Open the app, e.g. on iOS 17.", "Then tap Add, i.e. the plus.", "Mr. Smith agreed."]),
    ("See No. 5 for details. Visit https://example.com/help.html?x=1. Firmware v2.1.3 supports it.",
     ["See No. 5 for details.", "Visit https://example.com/help.html?x=1.", "Firmware v2.1.3 supports it."]),
    ("Say no. Then stop.", ["Say no.", "Then stop."]),
    ("Cables, chargers, etc. are included. Bring cables, etc. Then go.",
     ["Cables, chargers, etc. are included.", "Bring cables, etc.", "Then go."]),
    ("U.S. customers call 400-800-1234. Others email help@cloudnest.com.",
     ["U.S. customers call 400-800-1234.", "Others email help@cloudnest.com."]),
    ("1. Open the app. 2. Tap Add.", ["1. Open the app.", "2. Tap Add."]),
    ('He said "stop." Then (finally.) he left... Really?! OK',
     ['He said "stop."', "Then (finally.)", "he left...", "Really?!", "OK"]),
    # mixed Chinese and English
    ("请下载 CloudNest App 2.3.0。Then sign in. 登录后点击“添加设备”。",
     ["请下载 CloudNest App 2.3.0。", "Then sign in.", "登录后点击“添加设备”。"]),
    ("重启网关.然后等待 LED 变绿。Done!好的", ["重启网关.然后等待 LED 变绿。", "Done!", "好的"]),
    ("Step 2: restart the hub. 第3步：检查电源。", ["Step 2: restart the hub.", "第3步：检查电源。"]),
    # newlines end sentences; whitespace is trimmed; nothing empty
    ("Line one\nline two\n\n  line three  ", ["Line one", "line two", "line three"]),
    ("  \n\t\n", []),
    ("", []),
])
def test_split_sentences(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


# ----------------------------------------------------------------------------------------------- tokens


@pytest.mark.parametrize(("text", "tokens"), [
    ("", 0),
    (" \n\t", 0),
    ("hello", 2),  # ceil(1.3)
    ("hello world", 3),  # ceil(2.6)
    ("a b c", 4),  # ceil(3.9)
    ("门锁使用", 4),
    ("Wi-Fi", 4),  # 2 words (3) + 1 mark
    ("Hello, world!", 5),
    ("v2.1.3", 6),  # 3 words (4) + 2 marks
    ("100%", 3),
    ("我用 USB-C 充电。", 9),  # 4 CJK + 2 words (3) + 2 marks
    ("，。！", 3),
    ("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 4),  # 26 characters count as 3 words
    ("カメラ 카메라", 6),  # kana and Hangul count per character
])
def test_approx_tokens(text: str, tokens: int) -> None:
    assert approx_tokens(text) == tokens


def test_approx_tokens_never_grows_when_texts_are_joined() -> None:
    parts = ["Plug it in.", "门锁使用4节电池。", "a", "b c", "v2.1.3"]
    assert approx_tokens("\n".join(parts)) <= sum(approx_tokens(p) for p in parts)


# ----------------------------------------------------------------------------------------------- chunks

LOCK = """# Lock guide

Read this first.

## Batteries

Use four AA batteries.

Replace them when the LED blinks red.

## Fingerprints

Up to 100 fingerprints.
"""


def test_breadcrumbs_sections_positions_and_spans() -> None:
    chunks = chunk_blocks(markdown_blocks(LOCK), title="Lock guide")
    assert [(c.position, c.section_path, c.text) for c in chunks] == [
        (0, ("Lock guide",), "Lock guide\nRead this first."),
        (1, ("Lock guide", "Batteries"),
         "Lock guide > Batteries\nUse four AA batteries.\nReplace them when the LED blinks red."),
        (2, ("Lock guide", "Fingerprints"), "Lock guide > Fingerprints\nUp to 100 fingerprints."),
    ]
    assert [LOCK[c.char_start : c.char_end] for c in chunks] == [
        "Read this first.", "Use four AA batteries.\n\nReplace them when the LED blinks red.",
        "Up to 100 fingerprints."]


def test_title_goes_first_unless_it_is_the_first_heading() -> None:
    chunks = chunk_blocks(markdown_blocks(LOCK), title="SmartLock  L7")
    assert [c.text.split("\n")[0] for c in chunks] == [
        "SmartLock L7 > Lock guide",
        "SmartLock L7 > Lock guide > Batteries",
        "SmartLock L7 > Lock guide > Fingerprints",
    ]
    same = chunk_blocks(markdown_blocks(LOCK), title="lock GUIDE")
    assert same[0].text == "Lock guide\nRead this first."


def test_text_before_the_first_heading_and_documents_without_headings() -> None:
    md = "Preamble.\n\n## Setup\n\nDo it.\n"
    with_title = chunk_blocks(markdown_blocks(md), title="Hub")
    assert chunk_texts(with_title) == ["Hub\nPreamble.", "Hub > Setup\nDo it."]
    assert chunk_texts(chunk_blocks(markdown_blocks(md))) == ["Preamble.", "Setup\nDo it."]
    assert chunk_texts(chunk_blocks([block("Just text.")], title="  ")) == ["Just text."]


def test_a_new_heading_starts_a_new_chunk_even_with_the_same_path() -> None:
    blocks = [block("FAQ", "heading", ("FAQ",)), block("First.", path=("FAQ",)),
              block("FAQ", "heading", ("FAQ",)), block("Second.", path=("FAQ",)),
              block("Third, other path.", path=("Other",))]
    assert chunk_texts(chunk_blocks(blocks)) == ["FAQ\nFirst.", "FAQ\nSecond.", "Other\nThird, other path."]


def test_blocks_are_packed_in_order_up_to_the_budget() -> None:
    blocks = [block(f"Paragraph number {n} is short.", path=("S",), start=10 * n) for n in range(1, 6)]
    chunks = chunk_blocks(blocks, max_tokens=30, overlap_tokens=0)
    assert [approx_tokens("Paragraph number 1 is short."), approx_tokens("S")] == [8, 2]
    assert [(c.text, c.char_start, c.char_end) for c in chunks] == [
        ("S\nParagraph number 1 is short.\nParagraph number 2 is short.\nParagraph number 3 is short.",
         10, 58),
        ("S\nParagraph number 4 is short.\nParagraph number 5 is short.", 40, 78),
    ]


def test_a_list_starts_a_new_chunk_with_its_lead_in_when_it_fits_there() -> None:
    blocks = [block("Charge the lock fully before you begin the setup.", path=("S",)),
              block("You need:", path=("S",)),
              block("four AA batteries", "list_item", ("S",)),
              block("a screwdriver", "list_item", ("S",)),
              block("the app", "list_item", ("S",))]
    chunks = chunk_blocks(blocks, max_tokens=24, overlap_tokens=0)
    # greedy packing would have put "You need:" after the first paragraph
    assert chunk_texts(chunks) == [
        "S\nCharge the lock fully before you begin the setup.",
        "S\nYou need:\nfour AA batteries\na screwdriver\nthe app",
    ]


def test_a_lead_in_keeps_at_least_the_first_item_when_the_list_is_too_big() -> None:
    blocks = [block("Intro sentence here with a few more words.", path=("S",)), block("Steps:", path=("S",))]
    blocks += [block(f"{n}. Do step number {n} now", "list_item", ("S",)) for n in range(1, 5)]
    chunks = chunk_blocks(blocks, max_tokens=22, overlap_tokens=0)
    assert approx_tokens("S\nIntro sentence here with a few more words.\nSteps:") == 15
    assert approx_tokens("S\nIntro sentence here with a few more words.\nSteps:\n1. Do step number 1 now") \
        == 24
    assert chunk_texts(chunks) == [
        "S\nIntro sentence here with a few more words.",
        "S\nSteps:\n1. Do step number 1 now\n2. Do step number 2 now",
        "S\n3. Do step number 3 now\n4. Do step number 4 now",
    ]


def test_a_numbered_list_that_fits_is_not_split_after_a_bullet_list() -> None:
    md = "Bring:\n- a phone\n- the box\n\n1. Open the app.\n2. Scan the code.\n3. Wait.\n"
    chunks = chunk_blocks(markdown_blocks(md), max_tokens=24, overlap_tokens=0, title="Setup")
    # greedy packing would have added "1. Open the app." to the first chunk and split the steps
    assert chunk_texts(chunks) == [
        "Setup\nBring:\na phone\nthe box",
        "Setup\n1. Open the app.\n2. Scan the code.\n3. Wait.",
    ]


def test_a_big_table_is_split_between_rows_and_every_part_has_the_breadcrumb() -> None:
    rows = "\n".join(f"Code: E{i} | Fix: wipe sensor {i}" for i in range(1, 7))
    chunks = chunk_blocks([block(rows, "table", ("Errors",), start=5, end=50)], max_tokens=30,
                          overlap_tokens=4, title="RoboClean")
    assert [(c.position, c.text, c.char_start, c.char_end) for c in chunks] == [
        (0, "RoboClean > Errors\nCode: E1 | Fix: wipe sensor 1\nCode: E2 | Fix: wipe sensor 2", 5, 50),
        (1, "RoboClean > Errors\nCode: E3 | Fix: wipe sensor 3\nCode: E4 | Fix: wipe sensor 4", 5, 50),
        (2, "RoboClean > Errors\nCode: E5 | Fix: wipe sensor 5\nCode: E6 | Fix: wipe sensor 6", 5, 50),
    ]


def test_a_table_that_fits_moves_to_a_new_chunk_with_its_lead_in() -> None:
    blocks = [block("The robot announces faults and shows a code.", path=("Errors",)),
              block("Codes:", path=("Errors",)),
              block("Code: E1 | Fix: wheel\nCode: E2 | Fix: bumper", "table", ("Errors",))]
    assert chunk_texts(chunk_blocks(blocks, max_tokens=24, overlap_tokens=0)) == [
        "Errors\nThe robot announces faults and shows a code.",
        "Errors\nCodes:\nCode: E1 | Fix: wheel\nCode: E2 | Fix: bumper",
    ]


def test_an_oversized_paragraph_is_split_at_sentences_with_overlap() -> None:
    numbers = ["one", "two", "three", "four", "five", "six", "seven"]
    text = " ".join(f"Sentence number {w} is here." for w in numbers)
    chunks = chunk_blocks([block(text, path=("Guide",))], max_tokens=30, overlap_tokens=8, title="Hub")
    assert approx_tokens("Sentence number one is here.") == 8
    assert [(c.position, c.text) for c in chunks] == [
        (0, "Hub > Guide\nSentence number one is here. Sentence number two is here. "
            "Sentence number three is here."),
        (1, "Hub > Guide\nSentence number three is here. Sentence number four is here. "
            "Sentence number five is here."),
        (2, "Hub > Guide\nSentence number five is here. Sentence number six is here. "
            "Sentence number seven is here."),
    ]
    assert {(c.char_start, c.char_end) for c in chunks} == {(0, len(text))}


def test_overlap_is_whole_sentences_within_the_overlap_budget() -> None:
    text = "短句一。短句二。这是一个比较长的句子，超过了重叠的预算。短句三。短句四。短句五。"
    chunks = chunk_blocks([block(text)], max_tokens=20, overlap_tokens=5)
    assert chunk_texts(chunks) == [
        "短句一。短句二。",
        "这是一个比较长的句子，超过了重叠的预算。",
        "短句三。短句四。短句五。",
    ]
    no_overlap = chunk_blocks([block("一二三。四五六。七八九。十一二。")], max_tokens=16, overlap_tokens=0)
    with_overlap = chunk_blocks([block("一二三。四五六。七八九。十一二。")], max_tokens=16, overlap_tokens=4)
    assert chunk_texts(no_overlap) == ["一二三。四五六。七八九。十一二。"]
    long = "一二三四五。六七八九十。甲乙丙丁戊。己庚辛壬癸。"
    assert chunk_texts(chunk_blocks([block(long)], max_tokens=16, overlap_tokens=6)) == [
        "一二三四五。六七八九十。", "六七八九十。甲乙丙丁戊。", "甲乙丙丁戊。己庚辛壬癸。"]
    assert chunk_texts(with_overlap) == chunk_texts(no_overlap)


def test_the_last_piece_of_a_split_block_is_packed_with_what_follows() -> None:
    text = "Alpha beta gamma delta. Epsilon zeta eta theta. Iota kappa lambda mu."
    assert approx_tokens(text) == 19
    chunks = chunk_blocks([block(text), block("Nu xi.")], max_tokens=16, overlap_tokens=0)
    assert chunk_texts(chunks) == [
        "Alpha beta gamma delta. Epsilon zeta eta theta.", "Iota kappa lambda mu.\nNu xi."]


def test_a_sentence_larger_than_the_budget_is_hard_split() -> None:
    words = " ".join(["word"] * 30)
    assert chunk_texts(chunk_blocks([block(words)], max_tokens=16, overlap_tokens=0)) == [
        " ".join(["word"] * 12), " ".join(["word"] * 12), " ".join(["word"] * 6)]
    zh = "请" * 40 + "。"
    assert chunk_texts(chunk_blocks([block(zh)], max_tokens=16, overlap_tokens=4)) == [
        "请" * 16, "请" * 16, "请" * 8 + "。"]
    url = "https://example.com/" + "a" * 100 + "/b/c/d/e/f/g/h"
    pieces = chunk_texts(chunk_blocks([block(url)], max_tokens=16, overlap_tokens=4))
    assert pieces == ["https://example.com/" + "a" * 60, "a" * 40 + "/b/c/d/e/", "f/g/h"]
    assert "".join(pieces) == url


def test_a_mixed_sentence_is_hard_split_at_word_or_cjk_boundaries() -> None:
    text = "请打开CloudNest应用然后在设置页面里找到Hub X2并点击重置按钮再等待指示灯变成绿色为止"
    chunks = chunk_texts(chunk_blocks([block(text)], max_tokens=16, overlap_tokens=0))
    assert chunks == [
        "请打开CloudNest应用然后在设置页面里找", "到Hub X2并点击重置按钮再等待指示", "灯变成绿色为止"]
    assert all(approx_tokens(c) <= 16 for c in chunks)


def test_code_is_split_by_lines() -> None:
    code = "\n".join(f"kb-hub set option{n} on" for n in range(1, 6))
    assert chunk_texts(chunk_blocks([block(code, "code", ("CLI",))], max_tokens=24, overlap_tokens=0)) == [
        "CLI\nkb-hub set option1 on\nkb-hub set option2 on",
        "CLI\nkb-hub set option3 on\nkb-hub set option4 on",
        "CLI\nkb-hub set option5 on",
    ]


def test_a_long_breadcrumb_is_shortened_from_the_outside() -> None:
    path = ("A very long section heading number one", "Another quite long heading two", "Third")
    chunks = chunk_blocks([block("Short text.", path=path)], max_tokens=16, overlap_tokens=0, title="Doc")
    assert chunk_texts(chunks) == ["Third\nShort text."]
    assert chunks[0].section_path == path
    huge = ("word " * 20).strip()
    chunks = chunk_blocks([block("Short text.", path=(huge,))], max_tokens=16, overlap_tokens=0)
    assert chunk_texts(chunks) == ["word word word word word…\nShort text."]


def test_empty_blocks_and_sections_without_content_produce_nothing() -> None:
    blocks = [block("Title", "heading", ("Title",)), block("   ", path=("Title",)),
              block("Sub", "heading", ("Title", "Sub")), block("\n\n", "code", ("Title", "Sub")),
              block("Real", "heading", ("Real",)), block("Content.", path=("Real",))]
    chunks = chunk_blocks(blocks)
    assert [(c.position, c.text) for c in chunks] == [(0, "Real\nContent.")]
    assert chunk_blocks([]) == []


@pytest.mark.parametrize(("max_tokens", "overlap_tokens", "message"), [
    (15, 4, "max_tokens must be at least 16, got 15"),
    (220, -1, r"overlap_tokens must be >= 0 and < max_tokens // 2 \(110\), got -1"),
    (40, 20, r"overlap_tokens .* \(20\), got 20"),
])
def test_bad_parameters_are_value_errors(max_tokens: int, overlap_tokens: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        chunk_blocks([block("x")], max_tokens=max_tokens, overlap_tokens=overlap_tokens)


def _random_document(rng: random.Random) -> list[Block]:
    words = ["hub", "LED", "Wi-Fi", "v2.1.3", "password", "reset", "3.5", "e.g.", "router", "app"]
    zh = "门锁使用电池电量低于时会推送提醒请在两周内更换指示灯红色闪烁"
    md: list[str] = []
    for _ in range(rng.randint(1, 12)):
        choice = rng.random()
        if choice < 0.15:
            md.append("#" * rng.randint(1, 3) + " " + " ".join(rng.choices(words, k=rng.randint(1, 4))))
        elif choice < 0.35:
            md.append("\n".join(f"- {' '.join(rng.choices(words, k=rng.randint(1, 30)))}."
                                for _ in range(rng.randint(1, 6))))
        elif choice < 0.5:
            rows = [f"| {rng.choice(words)} | {''.join(rng.choices(zh, k=rng.randint(1, 90)))} |"
                    for _ in range(rng.randint(1, 12))]
            md.append("| Key | 说明 |\n|---|---|\n" + "\n".join(rows))
        else:
            sentences = [" ".join(rng.choices(words, k=rng.randint(1, 40))) + rng.choice([".", "!", "?"])
                         if rng.random() < 0.5 else "".join(rng.choices(zh, k=rng.randint(1, 120))) + "。"
                         for _ in range(rng.randint(1, 15))]
            md.append(rng.choice([" ", ""]).join(sentences))
    return markdown_blocks("\n\n".join(md))


@pytest.mark.parametrize("seed", range(60))
def test_invariants_on_random_documents(seed: int) -> None:
    rng = random.Random(seed)
    blocks = _random_document(rng)
    max_tokens, overlap = rng.choice([(16, 0), (16, 4), (40, 10), (60, 0), (80, 20), (220, 40)])
    title = rng.choice([None, "Hub X2 指南"])
    chunks = chunk_blocks(blocks, max_tokens=max_tokens, overlap_tokens=overlap, title=title)
    assert chunks == chunk_blocks(blocks, max_tokens=max_tokens, overlap_tokens=overlap, title=title)
    assert [c.position for c in chunks] == list(range(len(chunks)))
    content_blocks = [b for b in blocks if b.kind != "heading"]
    assert bool(chunks) == bool(content_blocks)
    for c in chunks:
        assert approx_tokens(c.text) <= max_tokens
        crumb, _, content = c.text.partition("\n")
        assert content.strip() if crumb and (title or c.section_path) else c.text.strip()
        assert c.char_start <= c.char_end
    # nothing is lost or reordered: the content (chunk text minus breadcrumb) is the input text, with
    # overlapping sentences repeated
    source = "".join("".join(b.text.split()) for b in content_blocks)
    content = "".join("".join((c.text.partition("\n")[2] if title or c.section_path else c.text).split())
                      for c in chunks)
    assert _is_subsequence(source, content)
    if overlap == 0:
        assert content == source


def _is_subsequence(needle: str, haystack: str) -> bool:
    it = iter(haystack)
    return all(ch in it for ch in needle)


def test_chunker_version_is_recorded() -> None:
    assert CHUNKER_VERSION == "2"
