"""Every input format and encoding, from fixtures the tests build."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from core.errors import BadInput
from ingest.clean import clean_message
from ingest.encoding import decode_bytes
from ingest.readers import read_document, read_faq
from ingest.units import document_units

CSV_ZH = "id,question,answer,alt_questions\nzh-1,怎么开发票,在订单页申请发票。,发票怎么开|能开专票吗\n"


@pytest.mark.parametrize(("encoding", "bom", "expected"), [
    ("utf-8", b"", "utf-8"), ("utf-8", b"\xef\xbb\xbf", "utf-8-sig"), ("gbk", b"", "gb18030"),
    ("gb18030", b"", "gb18030"), ("utf-16", b"", "utf-16"),
])
def test_faq_csv_encodings(tmp_path: Path, encoding: str, bom: bytes, expected: str) -> None:
    path = tmp_path / "faq.csv"
    path.write_bytes(bom + CSV_ZH.encode(encoding))
    entries, bad, used = read_faq(path, "s")
    assert used.encoding == expected and not bad
    assert entries[0].question == "怎么开发票" and entries[0].alt_questions == ("发票怎么开", "能开专票吗")


def test_undecodable_bytes_are_a_clear_error() -> None:
    assert decode_bytes("退货".encode("gb18030"))[1] == "gb18030"
    with pytest.raises(BadInput):
        decode_bytes(random.Random(0).randbytes(2000))  # binary; a few odd bytes are decodable cp1251


def test_xlsx_faq_sheet(tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["id", "question", "answer", "category"])
    ws.append(["x-1", "How do I reset my password?", "Tap Forgot password.", "account"])
    ws.append([None, None, None, None])
    ws.append(["x-2", "Empty answer", None, "account"])
    wb.save(tmp_path / "faq.xlsx")
    entries, bad, used = read_faq(tmp_path / "faq.xlsx", "s")
    assert used.encoding == "xlsx" and [e.id for e in entries] == ["x-1"] and entries[0].category == "account"
    assert [(b.location, b.reason) for b in bad] == [("row 4", "missing answer")]


def test_docx_with_a_table(tmp_path: Path) -> None:
    import docx

    d = docx.Document()
    d.add_heading("Lock guide", level=1)
    d.add_heading("Codes", level=2)
    d.add_paragraph("The lock shows these codes:")
    table = d.add_table(rows=3, cols=2)
    for r, (a, b) in enumerate([("Code", "Meaning"), ("E1", "Low battery"), ("E2", "Jammed bolt")]):
        table.rows[r].cells[0].text, table.rows[r].cells[1].text = a, b
    d.save(str(tmp_path / "guide.docx"))
    doc, used = read_document(tmp_path / "guide.docx", "s")
    assert used.encoding == "docx" and doc.title == "Lock guide"
    chunks = document_units(doc)
    text = "\n".join(u.text for u in chunks)
    assert "Code: E1 | Meaning: Low battery" in text and chunks[-1].section == "Lock guide > Codes"


def _tiny_pdf(text: str) -> bytes:
    """A minimal one-page PDF with one line of Helvetica text (valid xref offsets)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def test_pdf(tmp_path: Path) -> None:
    (tmp_path / "policy.pdf").write_bytes(_tiny_pdf("Refunds take 3 to 5 business days."))
    doc, used = read_document(tmp_path / "policy.pdf", "s")
    assert used.encoding == "pdf" and "Refunds take 3 to 5 business days." in doc.body
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    with pytest.raises(BadInput):
        read_document(tmp_path / "broken.pdf", "s")


def test_html_email_thread_with_quotes_and_signature() -> None:
    html = ("<html><body><div dir='ltr'><p>Hello,</p><p>My <b>SmartLock L7</b> says <i>system locked</i> "
            "every morning.</p><ul><li>Firmware 1.2</li><li>Batteries new</li></ul><p>Best regards,<br>Anna Lee"
            "<br>Sent from my iPhone</p></div><div class='gmail_quote'><div>On Mon, Support wrote:</div>"
            "<blockquote>Please replace the batteries.<br>-- CloudNest Support</blockquote></div></body></html>")
    assert clean_message(html) == "My SmartLock L7 says system locked every morning.\nFirmware 1.2\nBatteries new"


def test_html_email_thread_cleaning() -> None:
    raw = ("Hi team,\n\nMy Ｈｕｂ　Ｘ２ keeps going offline 😡 since XX/XX/2019. I was charged {$amount} twice! "
           "@agent_wang please help.\n\nThanks,\nJohn Smith\nSent from my iPhone\n\n"
           "On Mon, Jan 6, 2020 at 10:00 AM Support <support@x.com> wrote:\n> Please restart the hub.\n")
    assert clean_message(raw) == ("My Hub X2 keeps going offline since [REDACTED]. I was charged [AMOUNT] twice! "
                                  "@user please help.")
    zh = "您好，\n我的门锁没电了，怎么开门？\n\n此致\n敬礼\n张三\n\n发件人: 客服\n> 请更换电池"
    assert clean_message(zh) == "我的门锁没电了，怎么开门？"
    disclaimer = "The app crashes.\nThis email and any attachments are confidential and intended solely for you."
    assert clean_message(disclaimer) == "The app crashes."
