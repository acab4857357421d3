"""The editors' report: one self-contained HTML page (inline CSS, SVG and one small inline
script, no links to anything outside the page) with the archive's figures, charts of every
category, the research backlog and every check's "Want to dive deeper?" list, in tables an
editor can search and sort. Archive text is escaped by Jinja2's autoescape.

The script is allowed by the page's own Content-Security-Policy (a ``<meta>`` naming its
sha256, so the file stays byte-identical from run to run and runs offline, from disk); when
`suggest serve` serves the page it also carries the response's nonce. Without the script the
tables are plain tables.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path, PurePath

import numpy as np

from suggest.backlog import SHOWN_CHECKS, Backlog
from suggest.errors import OutputError
from suggest.files import claim_file, output_names, outside_archive, write_if_changed
from suggest.index import Index
from suggest.records import Archive
from suggest.render import safe_url, shipped_template

CHART_WIDTH = 720
CHART_HEIGHT = 240


@dataclass(frozen=True)
class Figures:
    """The archive in numbers."""

    checks: int
    questions: int
    pool_items: int
    question_items: int
    open: int
    answered: int
    duplicates_merged: int
    dated_checks: int
    first_date: str | None
    last_date: str | None


def figures(index: Index) -> Figures:
    """Counts for the report: questions, pool items, open vs answered, duplicates merged.

    ``duplicates_merged`` is the number of questions minus the pool items that hold a question:
    how many raised questions were the same question in other words.
    """
    is_title = np.asarray(index.member_is_title, dtype=bool)
    member_item = np.asarray(index.member_item, dtype=np.int64)
    q_items = np.unique(member_item[~is_title])
    answered = np.asarray(index.answered, dtype=bool)
    dates = np.asarray(index.check_dates, dtype=np.int64)
    dated = dates[dates >= 0]
    n_q = int((~is_title).sum())
    return Figures(
        checks=int(index.checks_matrix.shape[0]),
        questions=n_q,
        pool_items=int(index.pool_matrix.shape[0]),
        question_items=len(q_items),
        open=int((~answered[q_items]).sum()),
        answered=int(answered[q_items].sum()),
        duplicates_merged=n_q - len(q_items),
        dated_checks=len(dated),
        first_date=date.fromordinal(int(dated.min())).isoformat() if len(dated) else None,
        last_date=date.fromordinal(int(dated.max())).isoformat() if len(dated) else None,
    )


def _month(ordinal: int) -> str:
    return date.fromordinal(ordinal).isoformat()[:7]


def _months_between(first: str, last: str) -> list[str]:
    y, m = int(first[:4]), int(first[5:])
    out = []
    while f"{y:04d}-{m:02d}" <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def monthly(index: Index) -> dict:
    """Questions raised per month (by the raising check's date) and questions answered per
    month (a pool item counts in the month of its first answering check)."""
    dates = np.asarray(index.check_dates, dtype=np.int64)
    is_title = np.asarray(index.member_is_title, dtype=bool)
    member_check = np.asarray(index.member_check, dtype=np.int64)
    member_item = np.asarray(index.member_item, dtype=np.int64)
    raised = Counter(_month(int(d)) for d in dates[member_check[~is_title]] if d >= 0)
    undated = int((dates[member_check[~is_title]] < 0).sum())
    q_items = np.zeros(index.pool_matrix.shape[0], dtype=bool)
    q_items[member_item[~is_title]] = True
    title_item = member_item[is_title]
    title_date = dates[member_check[is_title]]
    first: dict[int, int] = {}
    for it, d in zip(title_item.tolist(), title_date.tolist(), strict=True):
        if q_items[it] and d >= 0 and (it not in first or d < first[it]):
            first[it] = d
    answered = Counter(_month(d) for d in first.values())
    keys = sorted(set(raised) | set(answered))
    months = _months_between(keys[0], keys[-1]) if keys else []
    return {
        "months": months,
        "raised": [raised.get(m, 0) for m in months],
        "answered": [answered.get(m, 0) for m in months],
        "undated": undated,
    }


def _ticks(v: int) -> tuple[int, int]:
    """A round step (1, 2, 5, 10, 20, 50, ...) and at most five steps that reach ``v``."""
    step, k = 1, 0
    while -(-v // step) > 5:
        k += 1
        step = (1, 2, 5)[k % 3] * 10 ** (k // 3)
    return step, max(1, -(-v // step))


def column_chart(labels: list[str], series: list[tuple[str, str, list[int]]]) -> dict:
    """Geometry of a grouped column chart (drawn as SVG by the template)."""
    w, h, left, bottom, top = CHART_WIDTH, CHART_HEIGHT, 44, 50, 30
    step, n_ticks = _ticks(max((max(vals) for _, _, vals in series if vals), default=0))
    vmax = step * n_ticks
    plot_w, plot_h = w - left - 8, h - bottom - top
    n = max(len(labels), 1)
    group = plot_w / n
    bar = max(1.0, group * 0.8 / max(len(series), 1))
    bars, xlabels = [], []
    every = max(1, -(-n // 24))
    for i, label in enumerate(labels):
        x0 = left + i * group + group * 0.1
        for j, (name, cls, vals) in enumerate(series):
            bh = plot_h * vals[i] / vmax
            bars.append(
                {
                    "x": round(x0 + j * bar, 2),
                    "y": round(top + plot_h - bh, 2),
                    "w": round(bar, 2),
                    "h": round(bh, 2),
                    "cls": cls,
                    "title": f"{label}: {vals[i]} {name}",
                }
            )
        if i % every == 0:
            xlabels.append({"x": round(left + i * group + group / 2, 2), "y": h - bottom + 14, "text": label})
    ticks = [{"y": round(top + plot_h - plot_h * t / n_ticks, 2), "text": str(step * t)} for t in range(n_ticks + 1)]
    return {
        "width": w,
        "height": h,
        "left": left,
        "right": w - 8,
        "bars": bars,
        "xlabels": xlabels,
        "ticks": ticks,
        "legend": [{"name": name, "cls": cls} for name, _cls, _ in series for cls in [_cls]],
    }


def bar_chart(rows: list[tuple[str, int]]) -> dict:
    """Geometry of a horizontal bar chart (label, value) for the template."""
    w, left, row_h = CHART_WIDTH, 170, 22
    vmax = max((v for _, v in rows), default=0) or 1
    plot_w = w - left - 60
    bars = [
        {
            "y": 6 + i * row_h,
            "w": round(plot_w * v / vmax, 2),
            "value": v,
            "label": label if len(label) <= 26 else f"{label[:25]}\u2026",
        }
        for i, (label, v) in enumerate(rows)
    ]
    return {"width": w, "height": 12 + len(rows) * row_h, "left": left, "bars": bars, "row_h": row_h}


def categories(index: Index) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """Checks per category and open questions per category (of the check that first raised
    them), most first (equal counts by name), every category."""
    n = index.checks_matrix.shape[0]
    cats = [index.check_records[r].get("category") or "(none)" for r in range(n)]
    checks = Counter(cats)
    answered = np.asarray(index.answered, dtype=bool)
    pair_item = np.asarray(index.pair_item, dtype=np.int64)
    pair_check = np.asarray(index.pair_check, dtype=np.int64)
    is_q = np.zeros(len(answered), dtype=bool)
    is_title = np.asarray(index.member_is_title, dtype=bool)
    is_q[np.asarray(index.member_item, dtype=np.int64)[~is_title]] = True
    open_q: Counter[str] = Counter()
    if len(pair_item):
        starts = np.flatnonzero(np.r_[True, pair_item[1:] != pair_item[:-1]])
        for s in starts.tolist():
            it = int(pair_item[s])
            if is_q[it] and not answered[it]:
                open_q[cats[int(pair_check[s])]] += 1

    def top(c: Counter[str]) -> list[tuple[str, int]]:
        return sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))

    return top(checks), top(open_q)


def skipped_files(archive: Archive | None) -> dict | None:
    """Files skipped and why (reasons counted), warnings, ignored files; None if unknown."""
    if archive is None:
        return None
    reasons = Counter(p.message.split(";")[0] for p in archive.skipped)
    return {
        "files_read": archive.files_read,
        "skipped": [{"path": p.path, "line": p.line, "message": p.message} for p in archive.skipped],
        "reasons": sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])),
        "warnings": [str(p) for p in archive.problems if not p.skipped],
        "ignored": len(archive.ignored),
    }


def build_report(
    index: Index,
    lists: Iterable[dict],
    backlog: Backlog,
    archive: Archive | None = None,
    title: str | None = None,
    nonce: str = "",
    nav: bool = False,
    files: dict | None = None,
) -> str:
    """The report page as one HTML string.

    Parameters
    ----------
    index : the archive's index.
    lists : each check's record as in suggestions.jsonl ({"id", "title", "suggestions"}),
        e.g. `suggest.batch.read_results` or `suggest.batch.iter_lists`.
    backlog : from `suggest.backlog.backlog`.
    archive : the read archive, for the files skipped and why (omitted when None).
    title : page title (default: names the archive by its folder or file name, not its path).
    nonce : the response's CSP nonce, when a server sends the page (`suggest serve`).
    nav : links to the editor's other pages (`suggest serve`).
    files : `skipped_files` of the archive, when ``archive`` is not given (a server keeps the
        summary, not the archive's texts).

    Returns
    -------
    str

    Examples
    --------
    >>> html = build_report(ix, iter_lists(ix), backlog(ix), read_archive("corpus"))  # doctest: +SKIP
    """
    from suggest import __version__
    from suggest.rank import own_check_row

    names = output_names(list(index.check_ids))
    known = set(names)

    def link(cid: str) -> str:
        return f"#check-{names[cid]}" if cid in known else ""

    def title_of(cid: str) -> str:
        row = own_check_row(index, cid)
        return str(index.check_records[row].get("title") or cid) if row is not None else cid

    fig = figures(index)
    month = monthly(index)
    by_cat, open_by_cat = categories(index)

    def checks() -> Iterable[dict]:
        for rec in lists:
            row = own_check_row(index, rec["id"])
            meta = index.check_records[row] if row is not None else {}
            yield {
                "id": rec["id"],
                "anchor": names.get(rec["id"], ""),
                "title": rec["title"],
                "checked_on": meta.get("checked_on"),
                "category": meta.get("category"),
                "url": safe_url(meta.get("url")),
                "suggestions": rec["suggestions"],
            }

    return shipped_template("report.html.j2").render(
        title=title or f"Research report: {archive_name(index)}",
        script=REPORT_SCRIPT,
        script_hash=SCRIPT_HASH,
        nonce=nonce,
        nav=nav,
        version=__version__,
        fig=fig,
        files=skipped_files(archive) if archive is not None else files,
        monthly=column_chart(
            month["months"], [("raised", "raised", month["raised"]), ("answered", "answered", month["answered"])]
        ),
        undated=month["undated"],
        categories=bar_chart(by_cat),
        open_categories=bar_chart(open_by_cat),
        backlog=backlog,
        rows=[r.to_dict() for r in backlog.rows],
        shown=SHOWN_CHECKS,
        checks=checks(),
        link=link,
        title_of=title_of,
    )


def archive_name(index: Index) -> str:
    """The archive's name for a page title: the last part of its path (a folder or a
    ``.jsonl`` file), never the whole path."""
    root = (index.manifest.get("archive") or {}).get("root")
    return PurePath(str(root)).name if root else "archive"


REPORT_SCRIPT = (Path(__file__).parent / "templates" / "report-script.j2").read_text("utf-8")
"""The report's one script: a search box per table (rows that do not contain the words typed
are hidden) and sortable columns (click a heading; again to reverse)."""
SCRIPT_HASH = base64.b64encode(hashlib.sha256(REPORT_SCRIPT.encode("utf-8")).digest()).decode("ascii")


REPORT_MARK = b'<meta name="generator" content="suggest report">'
"""What every report carries in its head: a file with it (or an empty one) may be replaced."""


def check_report_path(path: str | Path, archive: str | Path | None = None, option: str = "--out") -> None:
    """Refuse a report path inside ``archive`` or over a file that is not a previous report
    (`suggest.files.claim_file`). Raises `OutputError`."""
    if archive is not None:
        outside_archive(path, archive, option)
    claim_file(path, lambda head: REPORT_MARK in head, "an HTML report")


def write_report(
    path: str | Path,
    index: Index,
    lists: Iterable[dict],
    backlog: Backlog,
    archive: Archive | None = None,
) -> bool:
    """Write the report atomically (untouched when unchanged). Returns True if it wrote.

    Raises `OutputError` when the file cannot be written or holds something other than a
    previous report.
    """
    path = Path(path)
    check_report_path(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a folder; give a file name such as report.html")
    if not path.parent.is_dir():
        raise OutputError(f"{path}: the folder {path.parent} does not exist; create it first")
    return write_if_changed(path, build_report(index, lists, backlog, archive).encode("utf-8"))
