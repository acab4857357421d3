"""One article's "Want to dive deeper?" list with the editors' feedback applied: what `suggest
for` prints and what the editor's page and the JSON API show.

The ranking itself is `suggest.rank.explain`. The pool items of the blocked and rejected
questions (by their text or one of their wordings) leave the candidates before selection
(`suggest.rank.Ranker.score`'s ``exclude``), so the list is the one a pool without them
gives: they take no place, no per-source share and no part in the diversity step; they are
among the held back with their reason. Questions pinned for the article's category come
first (scored as the article scores them, 0 when it does not reach them); the ranking's own
list, which never repeats them, fills the places left.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from suggest.backlog import Backlog
from suggest.backlog import backlog as rank_backlog
from suggest.batch import ListFeedback
from suggest.errors import EmptyArchiveError, OptionError
from suggest.index import Index
from suggest.rank import Explained, check_record
from suggest.rank import explain as explain_list
from suggest.records import Check, RankOptions, Suggestion
from suggest.serve.feedback import NO_FEEDBACK, ArticleFeedback, FeedbackStore, article_key, question_key, store_path

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
    out_keys = feedback.blocked | feedback.rejected
    pin_keys = [k for k in dict.fromkeys(question_key(t) for t in feedback.pinned) if k not in out_keys]
    found = items_of(index, out_keys | set(pin_keys)) if out_keys or pin_keys else {}
    reason: dict[int, str] = {}
    for key in sorted(out_keys):
        for item in found.get(key, ()):
            reason.setdefault(item, "blocked by an editor" if key in feedback.blocked else REJECTED)
    pin_items = list(dict.fromkeys(i for k in pin_keys for i in found.get(k, ())[:1] if i not in reason))
    ranked = explain_list(index, article, opts, words=words, exclude=[*reason, *pin_items], scored=pin_items)
    pins = ranked.scored
    room = max(0, opts.top - len(pins))
    listed = [*pins[: opts.top], *ranked.listed[:room]]
    held: list[tuple[Suggestion, str]] = [(s, "the list was full") for s in [*pins[opts.top :], *ranked.listed[room:]]]
    held += [(s, reason.get(s.item, why)) for s, why in ranked.held if s.item not in pin_items]
    result = Explained(listed, held, ranked.floor)
    cited = sorted({c for s in [*listed, *(h for h, _ in held)] for c in s.sources + s.answered_by})
    return ArticleList(
        result=result,
        records={cid: check_record(index, cid) for cid in cited},
        pinned=frozenset(s.question for s in pins),
    )


REJECTED = "rejected for this article by an editor"

_KEYS: dict[int, tuple[Index, dict[str, tuple[int, ...]]]] = {}


def items_of(index: Index, keys: set[str] | frozenset[str]) -> dict[str, tuple[int, ...]]:
    """The pool items of each question key (`question_key`) in ``keys``: those whose text or
    one of whose wordings has that key, ascending. The map of the whole pool is made once per
    index (the last one asked about)."""
    got = _KEYS.get(id(index))
    if got is None or got[0] is not index:
        every: dict[str, list[int]] = {}
        for item, rec in enumerate(index.pool_records):
            for k in {question_key(rec["text"]), *(question_key(v) for v in rec.get("variants", ()))}:
                every.setdefault(k, []).append(item)
        _KEYS.clear()
        got = _KEYS[id(index)] = (index, {k: tuple(v) for k, v in every.items()})
    return {k: got[1][k] for k in sorted(keys) if k in got[1]}


def list_feedback(
    index: Index, store: FeedbackStore, article_keys: Callable[[], Iterable[tuple[str, str]]]
) -> ListFeedback:
    """The store's feedback as pool items of ``index``, for the batch job
    (`suggest.batch.ListFeedback`): the blocked questions, the questions rejected for each
    archive check (by its `article_key`, the key the same check's text gets when pasted into
    the editor's page; ``article_keys`` gives (check id, article key) of the archive's checks
    and is called only when some question was rejected) and the questions pinned for each
    category."""
    blocked, rejected, pins = store.blocked_keys(), store.rejections(), store.pins()
    keys = set(blocked) | {q for _, q in rejected} | {question_key(t) for _, t in pins}
    found = items_of(index, keys) if keys else {}
    by_article: dict[str, set[int]] = {}
    for article, q in rejected:
        by_article.setdefault(article, set()).update(found.get(q, ()))
    per_check: dict[str, tuple[int, ...]] = {}
    if by_article:
        known = set(index.check_ids)
        for cid, key in article_keys():
            items = by_article.get(key)
            if items and cid in known:
                per_check[cid] = tuple(sorted(items))
    pinned: dict[str, list[int]] = {}
    for cat, text in pins:
        for item in found.get(question_key(text), ())[:1]:
            if item not in pinned.setdefault(cat, []):
                pinned[cat].append(item)
    return ListFeedback(
        blocked=tuple(sorted({i for k in blocked for i in found.get(k, ())})),
        rejected=dict(sorted(per_check.items())),
        pinned={c: tuple(v) for c, v in sorted(pinned.items()) if v},
    )


def archive_keys(archive: str | Path) -> Callable[[], list[tuple[str, str]]]:
    """(check id, `article_key`) of every check of ``archive``, read when called."""

    def keys() -> list[tuple[str, str]]:
        from suggest.archive import read_archive

        return [(c.id, article_key(c)) for c in read_archive(archive).checks]

    return keys


def open_backlog(
    index: Index, store: FeedbackStore | None, recent_days: int = 90, top: int | None = 20, semantic: bool = True
) -> Backlog:
    """`suggest.backlog.backlog` less the questions editors closed (`FeedbackStore.closed`:
    blocked, or triaged as answered), renumbered; once editors accepted any question, every
    row carries for how many articles it was accepted (``BacklogRow.accepted``, 0 included).
    ``store`` None: the backlog as it is.

    Raises `OptionError` for the options `suggest.backlog.backlog` refuses.
    """
    closed = store.closed() if store is not None else frozenset()
    accepted = store.accepted_counts() if store is not None else {}
    if not closed and not accepted:
        return rank_backlog(index, recent_days=recent_days, top=top, semantic=semantic)
    if top is not None and top < 1:
        raise OptionError(f"--top {top}: ask for at least 1 question")
    every = rank_backlog(index, recent_days=recent_days, top=None, semantic=semantic)
    kept = [r for r in every.rows if question_key(r.question) not in closed]
    rows = tuple(
        replace(r, rank=k, accepted=accepted.get(question_key(r.question), 0) if accepted else None)
        for k, r in enumerate(kept[:top] if top is not None else kept, 1)
    )
    return replace(every, rows=rows, open_questions=len(kept))
