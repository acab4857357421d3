"""The data that passes between the stages: checks as read, settings, suggestions.

read (`readers`, `archive`) -> `Check` records -> build (`build`, `pool`, `index`, with an
`IndexConfig`) -> rank (`signals`, `rank`, `select`, with `RankOptions`) -> `Suggestion` ->
render (`render`). Every type here is plain, frozen data that pickles for worker processes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import date
from typing import TYPE_CHECKING

from suggest.errors import OptionError

if TYPE_CHECKING:
    from suggest.signals import Signal

FIELDS = ("title", "summary", "body", "questions")
"""The indexed fields of a check, in the order their weights are listed in `IndexConfig`."""
_CONTROL_IN_NAME = re.compile(r"[\x00-\x1f\x7f]")


def day_number(iso: str | None) -> int:
    """The ordinal day of an ISO date (``date.toordinal``), -1 when there is none or it is not
    a date: the index and the ranking read a check's or an article's date this one way.

    Examples
    --------
    >>> day_number("2025-11-01"), day_number(None), day_number("2025-02-30")
    (739556, -1, -1)
    """
    try:
        return date.fromisoformat(iso).toordinal() if iso else -1
    except ValueError:
        return -1


@dataclass(frozen=True)
class Section:
    heading: str
    text: str


@dataclass(frozen=True)
class Check:
    """One fact-check as the reader saw it. Text fields are normalised, citations kept."""

    id: str
    title: str
    checked_on: str | None = None
    summary: str = ""
    sections: tuple[Section, ...] = ()
    questions: tuple[str, ...] = ()
    category: str | None = None
    url: str | None = None
    path: str | None = None

    def to_dict(self, sections: bool = True) -> dict:
        """The check as plain JSON types, fields in order (``sections=False``: an empty list of
        sections). Built field by field: ``dataclasses.asdict`` deep-copies every string and
        took 1.4 s of a 19,250-check build."""
        return {
            "id": self.id,
            "title": self.title,
            "checked_on": self.checked_on,
            "summary": self.summary,
            "sections": [{"heading": s.heading, "text": s.text} for s in self.sections] if sections else [],
            "questions": list(self.questions),
            "category": self.category,
            "url": self.url,
            "path": self.path,
        }

    def body(self) -> str:
        """Section headings and texts, minus a section that only repeats the summary."""
        parts = []
        for s in self.sections:
            if s.text and s.text == self.summary:
                continue
            parts.append(f"{s.heading}\n{s.text}" if s.heading else s.text)
        return "\n".join(parts)


@dataclass(frozen=True)
class Problem:
    """A file (or line) that was skipped, or read with a warning."""

    path: str
    message: str
    line: int | None = None
    skipped: bool = True

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        kind = "skipped" if self.skipped else "warning"
        # File names (here and inside the message) may hold a newline: escape it to keep one line.
        return _CONTROL_IN_NAME.sub(lambda m: f"\\x{ord(m.group()):02x}", f"{kind}: {where}: {self.message}")

    @property
    def reason(self) -> str:
        """The kind of problem, for counting: the message up to its first ``;`` or `` (``."""
        return re.split(r";| \(", self.message, maxsplit=1)[0]


@dataclass
class Archive:
    """What `read_archive` found: the checks, and every file it skipped or warned about."""

    root: str
    checks: list[Check] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files_read: int = 0
    ignored: list[str] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)  # files and folders whose name starts with '.'
    spill: str | None = None  # read with ``spill``: the folder of the full checks
    sources: list[tuple[int, int]] = field(default_factory=list)  # each check's (spill file, place)
    digests: list[str] = field(default_factory=list)  # each check's `suggest.archive.text_digest`
    origins: list[tuple[str, str | None, int]] = field(default_factory=list)  # with ``spill``: file, category, place

    @property
    def skipped(self) -> list[Problem]:
        return [p for p in self.problems if p.skipped]

    def summary(self) -> str:
        """One line: read N files (M checks), skipped K, with the reasons counted.

        Examples
        --------
        >>> a = Archive("x", files_read=2, problems=[Problem("a.txt", "empty file; delete it")])
        >>> a.summary()
        'read 2 files (0 checks), skipped 1 (1 empty file)'
        """
        reasons: dict[str, int] = {}
        for p in self.skipped:
            reasons[p.reason] = reasons.get(p.reason, 0) + 1
        why = "; ".join(f"{n} {r}" for r, n in sorted(reasons.items(), key=lambda x: (-x[1], x[0])))
        text = (
            f"read {_count(self.files_read, 'file')} ({_count(len(self.checks), 'check')}), skipped {len(self.skipped)}"
        )
        if why:
            text += f" ({why})"
        warnings = len(self.problems) - len(self.skipped)
        if warnings:
            text += f", {_count(warnings, 'warning')}"
        if self.ignored:
            text += f", ignored {_count(len(self.ignored), 'other file')} (not .txt or .jsonl)"
        if self.hidden:
            text += f", passed over {_count(len(self.hidden), 'hidden path')}"
        return text


def _count(k: int, noun: str) -> str:
    return f"{k} {noun}" if k == 1 else f"{k} {noun}s"


@dataclass(frozen=True)
class IndexConfig:
    """Settings of the index. Saved in the manifest; a change rebuilds the index.

    Attributes
    ----------
    title_weight, summary_weight, body_weight, questions_weight :
        Weight of each field's unit-length TF-IDF vector in a check's vector.
    ngram_max : longest word n-gram (2: unigrams and bigrams).
    sublinear_tf : use 1 + log(tf).
    dup_threshold : cosine (single-word view) at which two questions are one question.
    dup_meaning_threshold : when the index has embeddings, two questions (or titles) that share
        a word (single-word cosine at least `suggest.pool.MEANING_PAIR_FLOOR`) are also one
        question when their embedding cosine reaches this: the same question in other words.
        Set on the sample corpus's designed pairs (docs/ranking.md).
    answer_title_threshold, answer_threshold : a check answers a question when the question's
        cosine to the check's title and to the whole check reach these (single-word view).
    char_weight : weight of the character n-gram view of a check (its first ``char_chars``
        characters, lower-cased, n-grams of ``char_ngram_min`` to ``char_ngram_max`` characters
        inside word boundaries, seen in at least 2 checks and in at most ``char_max_df`` of
        them) beside its word view; 0 leaves the view out. It catches what stems miss: glued
        hashtags, misspellings, names, numbers. The n-grams in more than a fifth of the checks
        carry little (MAP@5 on CheckThat train: -0.003 on 2A, -0.018 on 2B without them) and
        cost most: 13 times less work for the batch job on 19,250 PolitiFact checks.
    postings_max : the search postings keep, per term, the ``postings_max`` checks (and pool
        items) where the term weighs most ("champion lists"; 0 keeps all). Scores are computed
        over these lists, so the work per article is bounded by its number of terms times
        ``postings_max`` whatever the archive's size; an archive with fewer checks than this
        is searched exhaustively (exact cosines).

    The weights were chosen on the CheckThat! 2021 train splits (docs/evaluation.md).
    """

    title_weight: float = 0.5
    summary_weight: float = 1.0
    body_weight: float = 3.0
    questions_weight: float = 0.5
    ngram_max: int = 2
    sublinear_tf: bool = True
    dup_threshold: float = 0.45
    dup_meaning_threshold: float = 0.85
    answer_title_threshold: float = 0.15
    answer_threshold: float = 0.35
    char_weight: float = 1.5
    char_ngram_min: int = 2
    char_ngram_max: int = 4
    char_chars: int = 2000
    char_max_df: float = 0.2
    postings_max: int = 2000

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, float) and (v < 0 or (f.name.endswith("threshold") and v > 1)):
                raise OptionError(f"{f.name}={v} is out of range; use a value >= 0 (thresholds <= 1)")
        if not 1 <= self.ngram_max <= 3:
            raise OptionError(f"ngram_max={self.ngram_max}; use 1, 2 or 3")
        if not 1 <= self.char_ngram_min <= self.char_ngram_max <= 8:
            raise OptionError(
                f"char n-grams {self.char_ngram_min}-{self.char_ngram_max}: use 1 <= char_ngram_min <= char_ngram_max <= 8"
            )
        if not 0 < self.char_max_df <= 1:
            raise OptionError(f"char_max_df={self.char_max_df}; use a share of the checks above 0, at most 1")
        if self.postings_max < 0:
            raise OptionError(f"postings_max={self.postings_max}; use 0 (keep all) or more")
        if self.char_chars < 1:
            raise OptionError(f"char_chars={self.char_chars}; use 1 or more")

    def weights(self) -> dict[str, float]:
        return {f: getattr(self, f"{f}_weight") for f in FIELDS}


@dataclass(frozen=True)
class RankOptions:
    """How to rank. Defaults are what `suggest for` uses.

    Attributes
    ----------
    top : how many questions at most.
    open_only : leave out questions an archive check already answers.
    since, until : ISO dates; keep questions raised (or answered) in that range.
    min_score : below this a question is noise, not a suggestion (words only).
    meaning_min_score : the same when the signals of meaning count (`suggest.select.min_score`).
    relative_floor : nor below this share of the article's best allowed item's score (a floor
        that means the same on any archive: scores are higher where the archive covers the
        article well).
    question_floor : a suggested item's own words must reach this cosine with the article's
        (0: an item may come in on its checks' scores alone).
    restate_threshold : single-word cosine at which an item restates the article's title or
        one of its own questions (left out); None: the pool's ``dup_threshold``.
    restate_whole : also leave out an item whose single-word cosine to the whole article
        reaches this (the article covers it already; 0: off; `suggest.select.answered_by_article`).
    question_weight : share of a raised question's score from its own words; the rest comes
        from the best-matching check that raised or answered it. A check's title is part of its
        check's text already, so an item no check raised (a title) takes its check's score.
    date_weight, date_scale : a check dated near the article (both dates known) has its score
        raised by ``date_weight / (1 + days apart / date_scale)`` times: claims are checked
        while they circulate.
    mmr_lambda : relevance vs novelty in the diversity step (1.0 turns diversity off).
    max_per_source : at most this many suggestions raised by one check.
    candidates : how many top-scoring questions the diversity step considers.
    query_terms, query_grams : an article is matched on its ``query_terms`` heaviest words and
        word pairs and its ``query_grams`` heaviest character n-grams (0: all). The heaviest
        are the rarest, whose postings are short: a long article costs about what a tweet does.
    gram_postings, term_postings : at most this many character-view (word-view) postings
        read per article (0: no budget): its heaviest n-grams (words and word pairs) are kept
        while their postings in the checks fit. For archives of a million checks, where the
        postings of an article's terms grow to their cap (`IndexConfig.postings_max`): off
        by default (see bench/README.md).
    meaning_weight, meaning_question_weight : weights of the embedding cosine (`suggest.embed`)
        among a check's signals and among a question's own signals, when the index carries
        embeddings (0: off); tuned on the CheckThat train splits (docs/evaluation.md).
    restate_meaning : an item whose embedding cosine with the article's title or one of its
        own questions reaches this restates it (left out; 0: off; needs embeddings).
    meaning_items : a question's embedding cosine counts for the article's this many nearest
        pool items (others get 0 from it), so that the ranking can bound what it leaves out.
    """

    top: int = 5
    open_only: bool = False
    since: str | None = None
    until: str | None = None
    min_score: float = 0.12
    meaning_min_score: float = 0.15
    relative_floor: float = 0.0
    question_floor: float = 0.0
    restate_threshold: float | None = None
    restate_whole: float = 0.35
    question_weight: float = 0.5
    mmr_lambda: float = 0.7
    max_per_source: int = 3
    candidates: int = 50
    date_weight: float = 1.0
    date_scale: float = 30.0
    query_terms: int = 100
    query_grams: int = 150
    gram_postings: int = 0
    term_postings: int = 0
    meaning_weight: float = 1.25
    meaning_question_weight: float = 0.5
    meaning_items: int = 200
    restate_meaning: float = 0.0
    signals: tuple[str | Signal, ...] = ("words", "chars", "dates", "meaning", "meaning-q")

    def __post_init__(self) -> None:
        from suggest.signals import SIGNALS

        unknown = [s for s in self.signals if isinstance(s, str) and s not in SIGNALS]
        if unknown:
            raise OptionError(f"signals: unknown {', '.join(map(repr, unknown))}; use some of: {', '.join(SIGNALS)}")
        if self.top < 1:
            raise OptionError(f"--top {self.top}: ask for at least 1 question")
        if not 0 <= self.min_score <= 1 or not 0 <= self.meaning_min_score <= 1:
            raise OptionError(f"--min-score {self.min_score}: use a value from 0 to 1")
        if not 0 <= self.relative_floor <= 1 or not 0 <= self.question_floor <= 1:
            raise OptionError("relative_floor and question_floor must be from 0 to 1")
        if not 0 <= self.restate_whole <= 1:
            raise OptionError(f"restate_whole {self.restate_whole}: use a cosine from 0 (off) to 1")
        if self.restate_threshold is not None and not 0 < self.restate_threshold <= 1:
            raise OptionError(f"restate_threshold {self.restate_threshold}: use a cosine above 0, at most 1")
        if not 0 <= self.question_weight <= 1 or not 0 <= self.mmr_lambda <= 1:
            raise OptionError("question_weight and mmr_lambda must be from 0 to 1")
        if self.date_weight < 0 or self.date_scale <= 0:
            raise OptionError(f"date_weight {self.date_weight} must be >= 0 and date_scale {self.date_scale} > 0")
        if min(self.query_terms, self.query_grams, self.gram_postings, self.term_postings) < 0:
            raise OptionError(
                f"query_terms {self.query_terms}, query_grams {self.query_grams}, gram_postings "
                f"{self.gram_postings}, term_postings {self.term_postings}: use 0 (all, no budget) or more"
            )
        if self.meaning_weight < 0 or self.meaning_question_weight < 0 or self.meaning_items < 1:
            raise OptionError(
                f"meaning_weight {self.meaning_weight} and meaning_question_weight {self.meaning_question_weight} "
                f"must be >= 0, meaning_items {self.meaning_items} >= 1"
            )
        if not 0 <= self.restate_meaning <= 1:
            raise OptionError(f"restate_meaning {self.restate_meaning}: use a cosine from 0 (off) to 1")
        if self.max_per_source < 1:
            raise OptionError(f"max_per_source {self.max_per_source}: use 1 or more")
        for name in ("since", "until"):
            v = getattr(self, name)
            if v is not None:
                try:
                    date.fromisoformat(v)
                except ValueError:
                    raise OptionError(f"--{name} {v!r} is not a date; use YYYY-MM-DD") from None
        if self.since and self.until and self.since > self.until:
            raise OptionError(f"--since {self.since} is later than --until {self.until}; swap them")

    def settings(self) -> dict:
        """The options as JSON-ready data (signal objects by class and settings), for keys
        that say whether saved results were made with the same options."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["signals"] = [s if isinstance(s, str) else f"{type(s).__qualname__}{vars(s)}" for s in self.signals]
        return d


@dataclass(frozen=True)
class Suggestion:
    """One suggested question with everything `--explain` shows."""

    question: str
    score: float
    status: str
    item: int
    sources: tuple[str, ...]
    answered_by: tuple[str, ...]
    raised_on: tuple[str, ...] = ()
    matched: tuple[str, ...] = field(default=())
    question_score: float = 0.0
    check_score: float = 0.0
    signals: tuple[tuple[str, float], ...] = ()  # each signal's share of the score (`--explain`)

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "score": self.score,
            "status": self.status,
            "sources": list(self.sources),
            "answered_by": list(self.answered_by),
            "raised_on": list(self.raised_on),
            "matched": list(self.matched),
        }
