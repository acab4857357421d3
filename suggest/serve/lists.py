"""One article's "Want to dive deeper?" list with the editors' feedback applied: what `suggest
for` prints and what the editor's page and the JSON API show.

The ranking itself is `suggest.rank.explain`. Feedback is applied to its result: the list is
ranked a little longer (by the number of questions the feedback excludes), the blocked and
rejected questions are taken out with their reason, and the list is cut back to ``top``.
Selection is greedy (best first, `suggest.select.select`), so the questions kept are the ones
the ranking chose in that order; only the diversity step's view of a question taken out
differs from a ranking that never saw it. Questions pinned for the article's category come
first.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from suggest.backlog import Backlog
from suggest.backlog import backlog as rank_backlog
from suggest.errors import EmptyArchiveError, OptionError
from suggest.index import Index
from suggest.rank import Explained, check_record
from suggest.rank import explain as explain_list
from suggest.records import Check, RankOptions, Suggestion
from suggest.serve.feedback import NO_FEEDBACK, ArticleFeedback, FeedbackStore, question_key, store_path

PINNED = "pinned for the category by an editor"


@dataclass(frozen=True)
class ArticleList:
    """An article's list (``result.listed``), what was held back and why (``result.held``),
    the records of every check they cite (``records``, by id) and the questions among the
    listed that are pinned (``pinned``, question texts)."""

    result: Explained
    records: dict[str, dict]
    pinned: frozenset[str] = frozenset()


def rank_options(
    top: int = 5,
    open_only: bool = False,
    since: str | None = None,
    until: str | None = None,
    min_score: float | None = None,
) -> RankOptions:
    """The `RankOptions` of `suggest for`'s options (and the API's): a ``min_score`` given is
    the one floor, whatever the signals. Raises `OptionError` for a bad value."""
    opts = RankOptions(top=top, open_only=open_only, since=since, until=until)
    if min_score is not None:
        opts = replace(opts, min_score=min_score, meaning_min_score=min_score)
    return opts


def feedback_store(archive: str | Path, index_dir: str | Path | None) -> FeedbackStore:
    """The feedback store of the index of ``archive`` (in ``index_dir``, else the default)."""
    from suggest.index import default_index_dir

    return FeedbackStore(store_path(index_dir or default_index_dir(archive)))


def article_list(
    index: Index,
    article: Check,
    opts: RankOptions,
    feedback: ArticleFeedback = NO_FEEDBACK,
    words: bool = False,
) -> ArticleList:
    """The list for ``article`` with ``feedback`` applied (see the module docstring).

    Parameters
    ----------
    index : the archive's index.
    article : the parsed draft (`suggest.readers.parse_article` or `suggest.serve.drafts`).
    opts : from `rank_options` (and `suggest.cli.common.rank_signals`).
    feedback : from `FeedbackStore.for_article`.
    words : also the article words each question matched and each signal's share.

    Raises
    ------
    EmptyArchiveError
        When the archive holds no question to suggest.

    Examples
    --------
    >>> got = article_list(ix, parse_article(text), rank_options(top=3))  # doctest: +SKIP
    >>> [s.question for s in got.result.listed]  # doctest: +SKIP
    """
    if index.manifest["counts"]["questions"] == 0:
        raise EmptyArchiveError(
            "the archive has no dive-deeper questions to suggest; add checks that end with a 'Want to dive deeper?' list"
        )
    out = len(feedback.blocked | feedback.rejected)
    ranked = explain_list(index, article, replace(opts, top=opts.top + out) if out else opts, words=words)
    listed: list[Suggestion] = []
    held: list[tuple[Suggestion, str]] = []
    pins = _pinned(index, feedback, ranked)
    for s in pins:
        listed.append(s)
    shown = {question_key(s.question) for s in pins}
    for s in ranked.listed:
        why = feedback.excluded(s.question)
        if question_key(s.question) in shown:
            continue
        if why:
            held.append((s, why))
        elif len(listed) < opts.top:
            listed.append(s)
        else:
            held.append((s, "the list was full"))
    for s, why in ranked.held:
        if question_key(s.question) not in shown:
            held.append((s, feedback.excluded(s.question) or why))
    listed = listed[: opts.top]
    result = Explained(listed, held, ranked.floor)
    cited = sorted({c for s in [*listed, *(h for h, _ in held)] for c in s.sources + s.answered_by})
    return ArticleList(
        result=result,
        records={cid: check_record(index, cid) for cid in cited},
        pinned=frozenset(s.question for s in pins),
    )


def _pinned(index: Index, feedback: ArticleFeedback, ranked: Explained) -> list[Suggestion]:
    """The pool items of the questions pinned for the article's category (by their text or one
    of their wordings), in pin order, less those excluded; scored as the ranking scored them
    (0 when it did not reach them)."""
    if not feedback.pinned:
        return []
    wanted = [question_key(t) for t in feedback.pinned]
    wanted = [k for k in dict.fromkeys(wanted) if k not in feedback.blocked and k not in feedback.rejected]
    if not wanted:
        return []
    scored = {s.item: s for s in [*ranked.listed, *(h for h, _ in ranked.held)]}
    found: dict[str, Suggestion] = {}
    for item, rec in enumerate(index.pool_records):
        keys = {question_key(rec["text"]), *(question_key(v) for v in rec.get("variants", ()))}
        for k in keys & set(wanted):
            if k in found:
                continue
            found[k] = scored.get(item) or Suggestion(
                question=rec["text"],
                score=0.0,
                status=rec["status"],
                item=item,
                sources=tuple(rec["raised_by"]),
                answered_by=tuple(rec["answered_by"]),
                raised_on=tuple(rec["raised_on"]),
            )
        if len(found) == len(wanted):
            break
    seen: set[int] = set()
    out = []
    for k in wanted:
        s = found.get(k)
        if s is not None and s.item not in seen:
            seen.add(s.item)
            out.append(s)
    return out


def open_backlog(
    index: Index, store: FeedbackStore | None, recent_days: int = 90, top: int | None = 20, semantic: bool = True
) -> Backlog:
    """`suggest.backlog.backlog` less the questions editors closed (`FeedbackStore.closed`:
    blocked, or triaged as answered), renumbered; ``store`` None: the backlog as it is.

    Raises `OptionError` for the options `suggest.backlog.backlog` refuses.
    """
    closed = store.closed() if store is not None else frozenset()
    if not closed:
        return rank_backlog(index, recent_days=recent_days, top=top, semantic=semantic)
    if top is not None and top < 1:
        raise OptionError(f"--top {top}: ask for at least 1 question")
    every = rank_backlog(index, recent_days=recent_days, top=None, semantic=semantic)
    kept = [r for r in every.rows if question_key(r.question) not in closed]
    rows = tuple(replace(r, rank=k) for k, r in enumerate(kept[:top] if top is not None else kept, 1))
    return replace(every, rows=rows, open_questions=len(kept))
