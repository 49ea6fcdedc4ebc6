"""The HTML migration report: one self-contained page rendered from the JSON report.

`render_html(document)` takes the JSON report (schema 1, as `report.render_json` writes it,
parsed) and returns the page: totals with a bar chart, the notebooks that need review first,
and per notebook its report lines, its changed cells before and after (when the report has
`cells`, see `--report-cells`) and a link to the file. Every piece of text from the report is
escaped: notebook sources are untrusted, and the page's policy forbids any request.
"""

from __future__ import annotations

import difflib
import html
import posixpath
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import quote

from nbsetup.changes import WARNING_KINDS
from nbsetup.report.html_assets import CONTENT_SECURITY_POLICY, SCRIPT, STYLE

STATUSES = ("changed", "unchanged", "skipped", "failed")
#: What each kind that needs review is called in the page, singular and plural.
REVIEW_LABELS = {
    "left": ("install left in place", "installs left in place"),
    "conflict": ("conflict", "conflicts"),
    "mismatch": ("pin mismatch", "pin mismatches"),
    "moved": ("option clash", "option clashes"),
    "preloaded": ("preloaded pin", "preloaded pins"),
    "restart": ("restart cell", "restart cells"),
}
_REVIEW_NOTE = (
    '<p class="muted">Failures, installs left in place (nothing after such a barrier is '
    "hoisted), conflicts, preloaded pins and restart cells, the most first.</p>"
)
#: A report of at most this many notebooks shows each one expanded.
OPEN_UP_TO = 5
#: Lines of context around each change of a cell.
CONTEXT_LINES = 3
_LEFT_PREFIX = "install not moved: "
#: A variable's name or a cell's position makes each reason unique; the chart groups by kind.
_REASON_DETAILS = (
    # Why a block stays names its lines and names: the filter is the kind of block.
    (re.compile(r"^(inside (?:an if|a try) block) \(.*\)$"), r"\1"),
    (re.compile(r"\bthe (shell|Python) variable \S+"), r"a \1 variable"),
    (re.compile(r",? at cell \d+(, line \d+)?"), ""),
)


def left_reason(message: str) -> str:
    """The reason of a `left` change, without the names that make it unique.

    `install not moved: uses the shell variable $BRANCH` → `uses a shell variable`.
    """
    reason = message.removeprefix(_LEFT_PREFIX)
    for pattern, replacement in _REASON_DETAILS:
        reason = pattern.sub(replacement, reason)
    return reason


def file_href(path: str, root: str = "") -> str:
    """The link to a report's file: relative (below `root`, the way from the page to the
    directory the report's paths are relative to) or, for an absolute path, a file:// URL.

    `file_href("nbs/a b.ipynb", "..")` → `../nbs/a%20b.ipynb`.
    """
    if PureWindowsPath(path).is_absolute() and not path.startswith("/"):
        return PureWindowsPath(path).as_uri()
    if path.startswith("/"):
        return PurePosixPath(path).as_uri()
    joined = posixpath.normpath(posixpath.join(root, path.replace("\\", "/")))
    return quote(joined)


def render_html(document: Mapping[str, Any], *, root: str = "") -> str:
    """The report page for a parsed JSON report; `root` as for `file_href`."""
    files: Sequence[Mapping[str, Any]] = document["files"]
    entries = [_Entry(index, file) for index, file in enumerate(files)]
    review = sorted((e for e in entries if e.review), key=_Entry.review_order)
    rest = [e for e in entries if not e.review]
    opened = len(entries) <= OPEN_UP_TO
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CONTENT_SECURITY_POLICY)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>nbsetup migration report</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>nbsetup migration report</h1>",
        _run_line(document, len(files)),
        _totals(document["summary"], entries),
        _filters(entries),
        _group("review", f"Needs review ({len(review)})", review, root, opened),
        _group("rest", f"Other notebooks ({len(rest)})", rest, root, opened),
        f"<script>{SCRIPT}</script></body></html>",
    ]
    return "\n".join(part for part in parts if part)


class _Entry:
    """One file of the report, with what the page derives from it."""

    def __init__(self, index: int, file: Mapping[str, Any]) -> None:
        self.anchor = f"nb-{index + 1}"
        self.file = file
        self.path: str = file["path"]
        self.status: str = file["status"]
        self.changes: Sequence[Mapping[str, Any]] = file["changes"]
        self.review = Counter(c["kind"] for c in self.changes if c["kind"] in WARNING_KINDS)
        if self.status == "failed":
            self.review["failed"] += 1
        self.reasons = Counter(
            left_reason(c["message"]) for c in self.changes if c["kind"] == "left"
        )

    def review_order(self) -> tuple[bool, int, str]:
        return (self.status != "failed", -sum(self.review.values()), self.path)

    @property
    def tags(self) -> list[str]:
        """What the reason filter matches: kinds that need review and each left reason."""
        tags = [*(["review"] if self.review else []), *self.review]
        return tags + [f"left:{reason}" for reason in self.reasons]

    @property
    def packages(self) -> str:
        names = (_norm(c["package"]) for c in self.changes if c.get("package"))
        return "|" + "|".join(dict.fromkeys(names)) + "|"

    def review_tags(self) -> str:
        tags = []
        for kind, number in self.review.items():
            if kind == "failed":
                tags.append('<span class="tag failed">failed</span>')
            else:
                singular, plural = REVIEW_LABELS.get(kind, (kind, kind))
                label = _e(singular if number == 1 else plural)
                tags.append(f'<span class="tag">{number} {label}</span>')
        return "".join(tags)


def _norm(text: str) -> str:
    """Package text as the search compares it (the script's `norm`): `Py_YAML` → `py-yaml`."""
    return re.sub(r"[-_.]+", "-", text.lower()).strip()


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _run_line(document: Mapping[str, Any], files: int) -> str:
    interrupted = " · <strong>interrupted</strong>" if document.get("interrupted") else ""
    return (
        f'<p class="meta">{files} notebook{"" if files == 1 else "s"} · exit code '
        f'<span id="exit-code">{_e(document.get("exit_code"))}</span> · report schema '
        f"{_e(document.get('schema'))}{interrupted}</p>"
    )


def _totals(summary: Mapping[str, Any], entries: Sequence[_Entry]) -> str:
    kinds = Counter(c["kind"] for entry in entries for c in entry.changes)
    numbers = [
        *((status, status, summary[status]) for status in STATUSES),
        ("packages", "packages hoisted", summary["packages"]),
        ("pinned", "pinned", kinds["pinned"]),
        ("unpinned", "unpinned", kinds["unpinned"]),
        ("conflicts", "conflicts", summary["conflicts"]),
        ("left", "left in place", summary["left"]),
    ]
    cards = "".join(
        f'<div><dt>{_e(label)}</dt><dd id="total-{key}">{_e(value)}</dd></div>'
        for key, label, value in numbers
    )
    reasons = Counter(reason for entry in entries for reason in entry.reasons.elements())
    return "\n".join(
        [
            "<h2>Totals</h2>",
            f'<dl class="totals">{cards}</dl>',
            _status_chart(summary),
            _reason_chart(reasons) if reasons else "",
        ]
    )


def _status_chart(summary: Mapping[str, Any]) -> str:
    """One stacked bar of the notebooks by status, with a legend."""
    total = sum(summary[status] for status in STATUSES) or 1
    rects, x = [], 0.0
    for status in STATUSES:
        width = 1000 * summary[status] / total
        if width:
            rects.append(
                f'<rect class="{status}" x="{x:.1f}" width="{width:.1f}" height="22">'
                f"<title>{status}: {summary[status]}</title></rect>"
            )
        x += width
    legend = "".join(
        f'<span><i class="sw {status}"></i>{status} {summary[status]}</span>'
        for status in STATUSES
    )
    return (
        '<svg class="stack" viewBox="0 0 1000 22" preserveAspectRatio="none" role="img" '
        f'aria-label="notebooks by status">{"".join(rects)}</svg>'
        f'<p class="legend">{legend}</p>'
    )


def _reason_chart(reasons: Counter[str]) -> str:
    """A table of the installs left in place by reason, each with its bar."""
    most = max(reasons.values())
    rows = "".join(
        f'<tr><td class="n">{number}</td><td class="chart"><svg class="bar" viewBox="0 0 100 12" '
        f'preserveAspectRatio="none"><rect class="skipped" width="{100 * number / most:.1f}" '
        f'height="12"></rect></svg></td><td class="reason">{_e(reason)}</td></tr>'
        for reason, number in sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
    )
    return f'<h2>Installs left in place, by reason</h2><table id="reasons">{rows}</table>'


def _filters(entries: Sequence[_Entry]) -> str:
    statuses = Counter(entry.status for entry in entries)
    status_options = "".join(
        f'<option value="{status}">{status} ({statuses[status]})</option>'
        for status in STATUSES
        if statuses[status]
    )
    tags = Counter(tag for entry in entries for tag in entry.tags)
    reason_options = "".join(
        f'<option value="{_e(tag)}">{_e(_tag_label(tag))} ({number})</option>'
        for tag, number in sorted(tags.items(), key=_tag_order)
    )
    return (
        '<h2>Notebooks</h2><form id="filters" autocomplete="off">'
        '<label>Status <select name="status"><option value="">any</option>'
        f"{status_options}</select></label>"
        '<label>Reason <select name="reason"><option value="">any</option>'
        f"{reason_options}</select></label>"
        '<label>Package or path <input name="q" type="search" placeholder="e.g. torch">'
        "</label>"
        '<button type="button" id="expand">Expand all</button>'
        '<button type="button" id="collapse">Collapse all</button>'
        f'<span class="muted">Showing <span id="shown-count">{len(entries)}</span> of '
        f"{len(entries)}</span></form>"
    )


def _tag_label(tag: str) -> str:
    if tag == "review":
        return "needs review"
    if tag.startswith("left:"):
        return f"left in place: {tag.removeprefix('left:')}"
    return REVIEW_LABELS.get(tag, (tag, tag))[1]


def _tag_order(item: tuple[str, int]) -> tuple[int, int, str]:
    tag, number = item
    rank = 0 if tag == "review" else 2 if tag.startswith("left:") else 1
    return (rank, -number, tag)


def _group(name: str, heading: str, entries: Sequence[_Entry], root: str, opened: bool) -> str:
    if not entries:
        return ""
    articles = "\n".join(_article(entry, root, opened) for entry in entries)
    note = _REVIEW_NOTE if name == "review" else ""
    return (
        f'<section class="group" id="group-{name}"><h2>{_e(heading)}</h2>{note}\n'
        f"{articles}</section>"
    )


def _article(entry: _Entry, root: str, opened: bool) -> str:
    file = entry.file
    attributes = (
        f'class="nb" id="{entry.anchor}" data-path="{_e(entry.path)}" '
        f'data-status="{_e(entry.status)}" data-tags="{_e("|".join(entry.tags))}" '
        f'data-packages="{_e(entry.packages)}"'
    )
    body = []
    if file.get("requirements"):
        body.append(f'<p class="meta">pins: {_e(file["requirements"])}</p>')
    if file.get("error"):
        body.append(f'<p class="error">{_e(file["error"])}</p>')
    if entry.changes:
        body.append(f'<ul class="lines">{"".join(_line(c) for c in entry.changes)}</ul>')
    body += [_cell(cell) for cell in file.get("cells") or ()]
    return (
        f"<article {attributes}><details{' open' if opened else ''}><summary>"
        f'<span class="badge {_e(entry.status)}">{_e(entry.status)}</span> '
        f'<a class="path" href="{_e(file_href(entry.path, root))}">{_e(entry.path)}</a> '
        f"{entry.review_tags()}</summary>{''.join(body)}</details></article>"
    )


def _line(change: Mapping[str, Any]) -> str:
    """A report line: `cell 4, line 2: install not moved: …`, warnings marked."""
    opening = '<li class="warning">' if change["kind"] in WARNING_KINDS else "<li>"
    cell, line = change.get("cell"), change.get("line")
    where = "" if cell is None else f"cell {cell}" if line is None else f"cell {cell}, line {line}"
    where_html = f'<span class="where">{_e(where)}:</span> ' if where else ""
    return f"{opening}{where_html}{_e(change['message'])}</li>"


def _cell(cell: Mapping[str, Any]) -> str:
    """One changed cell: a heading saying which, then its lines, removed and added marked."""
    if cell["before"] is None:
        what = f"cell {cell['cell']}: new"
    elif cell["after"] is None:
        what = f"cell {cell['original_cell']} of the original: removed"
    elif cell["cell"] == cell["original_cell"]:
        what = f"cell {cell['cell']}: changed"
    else:
        what = f"cell {cell['cell']} (cell {cell['original_cell']} of the original): changed"
    if cell.get("environment"):
        what += " · environment cell"
    lines = "".join(_diff_lines(cell["before"] or "", cell["after"] or ""))
    return f'<div class="cell"><h4>{_e(what)}</h4><pre class="diff">{lines}</pre></div>'


def _diff_lines(before: str, after: str) -> Iterable[str]:
    """The lines of a cell's change, each a span: `del`, `add`, context, or a `gap` marker."""
    old, new = before.splitlines(), after.splitlines()
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    groups = list(matcher.get_grouped_opcodes(CONTEXT_LINES))
    for number, group in enumerate(groups):
        if number or group[0][1] > 0:
            yield '<span class="gap">⋯</span>'
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                yield from (f"<span>  {_e(text)}</span>" for text in old[i1:i2])
                continue
            yield from (f'<span class="del">- {_e(text)}</span>' for text in old[i1:i2])
            yield from (f'<span class="add">+ {_e(text)}</span>' for text in new[j1:j2])
    if groups and groups[-1][-1][2] < len(old):
        yield '<span class="gap">⋯</span>'


__all__ = ["CONTEXT_LINES", "REVIEW_LABELS", "STATUSES", "file_href", "left_reason", "render_html"]
