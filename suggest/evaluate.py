"""Evaluate the ranking on real data: CheckThat! 2021 "previously fact-checked claims".

A CheckThat folder holds fact-checks (``vclaims.jsonl`` for task 2A, ``politifact_vclaims.jsonl.gz``
for 2B) and, per split, ``<split>.queries.tsv`` and ``<split>.qrels``. Each fact-check becomes an
archive `Check` whose title is its one answered question; each query becomes a new article. The
ranking is the one `suggest for` runs (`build_index`, then `Ranker.score`, `filter_mask` and
`select` from `suggest.rank`); each suggested pool item stands for the checks that answer it.
bm25s on the same texts is the peer. Figures are computed with ranx.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path

import numpy as np

from suggest import files
from suggest.errors import ArchiveError, OptionError, SuggestError
from suggest.index import Index, build_index
from suggest.query import NO_CLEANING, QueryCleaning, clean_query
from suggest.rank import Ranker, article_from_check
from suggest.readers import check_from_json
from suggest.records import Check, IndexConfig, RankOptions
from suggest.select import select
from suggest.signals import Article

METRICS = ("queries", "map@1", "map@5", "mrr", "p@1", "recall@5")
"""The keys of every figures dict, in display order."""
_RANX_NAMES = {"map@1": "map@1", "map@5": "map@5", "mrr": "mrr", "p@1": "precision@1", "recall@5": "recall@5"}
DEPTH = 20
"""How many fact-checks each query's list holds: the official top 5, then more for MRR."""
_VCLAIM_PATTERNS = ("*vclaims.jsonl", "*vclaims.jsonl.gz")
_DATE_2B = re.compile(r"([A-Z][a-z]+\.? \d{1,2}, \d{4})")
_TWEET_DATE = re.compile(r"\(@\w+\)\s*([A-Z][a-z]+\.? \d{1,2}, \d{4})\s*$")
_ID_DATE = re.compile(r"^((?:19|20)\d{6})_")
_ID_DATE_WORDS = re.compile(r"^((?:19|20)\d\d)_([A-Za-z]{3})[a-z]*_(\d{1,2})_")

UNUSED_OPTIONS = frozenset({"top", "open_only", "since", "until"})
"""RankOptions fields the evaluation fixes: the official list is 5 long and nothing is filtered."""

Run = dict[str, list[tuple[str, float]]]
"""Query id -> [(fact-check id, score), ...], best first."""
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Split:
    """One split of a CheckThat folder.

    Attributes
    ----------
    name : e.g. ``train`` or ``dev``.
    queries : (query id, text) in file order.
    qrels : query id -> {fact-check id: relevance}; only relevant pairs.
    duplicates : qrels rows dropped because they repeat an earlier row.
    """

    name: str
    queries: tuple[tuple[str, str], ...]
    qrels: dict[str, dict[str, int]]
    duplicates: int = 0


@dataclass
class Evaluation:
    """What `evaluate_checkthat` measured: figures and runs per system, and timings (seconds)."""

    folder: str
    split: str
    figures: dict[str, dict[str, float]] = field(default_factory=dict)
    runs: dict[str, Run] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    dated: int = 0  # queries that carried a date (`query_date`)
    semantic: bool = False  # the ranking used the embeddings


# -- reading the folder -------------------------------------------------------------------------
def _files_here(folder: Path) -> str:
    names = sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    return ", ".join(names) or "no files"


def available_splits(folder: str | Path) -> list[str]:
    """Names of the splits that have both a ``.queries.tsv`` and a ``.qrels`` file."""
    folder = Path(folder)
    names = [p.name[: -len(".queries.tsv")] for p in folder.glob("*.queries.tsv")]
    return sorted(n for n in names if (folder / f"{n}.qrels").is_file())


def vclaims_file(folder: str | Path) -> Path:
    """The fact-check file of a CheckThat folder (``vclaims.jsonl`` or ``*_vclaims.jsonl.gz``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SuggestError(f"{folder}: not a folder; give a CheckThat folder such as data/checkthat/2021-2a-en")
    found = sorted(p for pat in _VCLAIM_PATTERNS for p in folder.glob(pat))
    if not found:
        raise SuggestError(f"{folder}: no vclaims.jsonl or *_vclaims.jsonl.gz here (found: {_files_here(folder)})")
    return found[0]


def _iso(raw: object) -> str | None:
    """``6 March 2021`` or ``stated on October 22, 2019 in ...`` -> ``2021-03-06``; else None."""
    if not isinstance(raw, str):
        return None
    for text, fmt in (
        (raw.strip(), "%d %B %Y"),
        (m.group(1).replace(".", "") if (m := _DATE_2B.search(raw)) else "", "%B %d, %Y"),
    ):
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    return None


def check_from_vclaim(obj: dict, path: str | Path, line: int) -> Check:
    """One CheckThat fact-check as an archive check.

    id = ``vclaim_id``; title = ``title`` (the claim when the title is empty); summary = the
    claim and the subtitle; one untitled section = the article ``text`` when present; no
    questions of its own (the title is the question the check answers).
    """
    if not isinstance(obj, dict) or not isinstance(obj.get("vclaim_id"), str) or not obj["vclaim_id"].strip():
        raise ArchiveError(path, 'no "vclaim_id" string; every fact-check needs its id', line)

    def text(key: str) -> str:
        v = obj.get(key)
        return v.strip() if isinstance(v, str) else ""

    claim = text("vclaim")
    title = text("title") or claim
    if not title:
        raise ArchiveError(path, "neither a title nor a vclaim; nothing to index", line)
    url = text("url")
    record = {
        "id": obj["vclaim_id"].strip(),
        "title": title,
        "summary": "\n".join(t for t in (claim, text("subtitle")) if t),
        "sections": [{"heading": "", "text": text("text")}] if text("text") else [],
        "checked_on": _iso(obj.get("date")),
        "url": ("https://www.politifact.com" + url) if url.startswith("/") else (url or None),
    }
    return check_from_json(record, path, line)


def load_checks(folder: str | Path) -> list[Check]:
    """Every fact-check of a CheckThat folder as an archive `Check` (file order).

    Raises
    ------
    SuggestError
        When the folder has no fact-check file, or a line is not a fact-check (named by line).
    """
    path = vclaims_file(folder)
    opener = gzip.open if path.suffix == ".gz" else open
    checks = []
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            for no, raw in enumerate(f, 1):
                if not raw.strip():
                    continue
                try:
                    obj = json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise ArchiveError(path, f"invalid JSON ({exc.msg}); fix or remove the line", no) from None
                checks.append(check_from_vclaim(obj, path, no))
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ArchiveError(path, f"cannot read ({exc}); check the file") from None
    if not checks:
        raise SuggestError(f"{path}: no fact-checks in it")
    return checks


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SuggestError(f"{path}: cannot read ({exc})") from None


def load_split(folder: str | Path, name: str) -> Split:
    """Read ``<name>.queries.tsv`` and ``<name>.qrels`` of a CheckThat folder.

    Lines are split on the tab (no CSV quoting); a first line ``query_id<TAB>query_text`` is
    a header. Qrels are TREC lines ``query_id 0 doc_id relevance``; rows repeating an earlier
    (query, doc) pair are dropped and counted; only relevance > 0 is kept.

    Raises
    ------
    SuggestError
        When a file of the split is missing (the message names the files found), a line is
        malformed, or the qrels name a query the queries file lacks.
    """
    folder = Path(folder)
    qpath, rpath = folder / f"{name}.queries.tsv", folder / f"{name}.qrels"
    if not qpath.is_file() or not rpath.is_file():
        have = available_splits(folder)
        raise SuggestError(
            f"{folder}: no split {name!r} (needs {qpath.name} and {rpath.name}; splits here: "
            f"{', '.join(have) or 'none'}; files: {_files_here(folder)})"
        )
    queries: list[tuple[str, str]] = []
    seen: set[str] = set()
    for no, line in enumerate(_lines(qpath), 1):
        if not line.strip():
            continue
        qid, tab, text = line.partition("\t")
        if no == 1 and qid == "query_id":
            continue
        if not tab or not qid.strip():
            raise ArchiveError(qpath, "expected query_id<TAB>query_text", no)
        if qid in seen:
            raise ArchiveError(qpath, f"query id {qid!r} appears twice", no)
        seen.add(qid)
        queries.append((qid.strip(), text.strip()))
    qrels: dict[str, dict[str, int]] = {}
    duplicates = 0
    for no, line in enumerate(_lines(rpath), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 4:
            raise ArchiveError(rpath, "expected 4 fields: query_id 0 doc_id relevance", no)
        qid, _, doc, rel = parts
        try:
            relevance = int(rel)
        except ValueError:
            raise ArchiveError(rpath, f"relevance {rel!r} is not an integer", no) from None
        if doc in qrels.get(qid, {}):
            duplicates += 1
            continue
        if relevance > 0:
            qrels.setdefault(qid, {})[doc] = relevance
    missing = sorted(set(qrels) - seen)
    if missing:
        raise SuggestError(f"{rpath}: {len(missing)} judged queries are not in {qpath.name} (first: {missing[0]})")
    return Split(name, tuple(queries), qrels, duplicates)


def query_date(query_id: str, text: str) -> str | None:
    """The date a query was said or posted, when it carries one: the "Month D, YYYY" that ends
    an embedded tweet (2A), or the debate's date that starts a 2B query id, in any style the
    CheckThat! releases use (``20170822_Trump_phoenix_0204``, ``2019_oct_03_221``,
    ``2019_nov_21_fact-checking-fifth-democratic-presidential-debate_0235``).

    >>> [query_date(q, "") for q in ("20170822_x_0204", "2019_oct_03_221", "2019_nov_21_debate_0235", "tweet-1")]
    ['2017-08-22', '2019-10-03', '2019-11-21', None]
    """
    m = _TWEET_DATE.search(text)
    if m:
        with contextlib.suppress(ValueError):
            return datetime.strptime(m.group(1).replace(".", ""), "%B %d, %Y").date().isoformat()
    m = _ID_DATE.match(query_id)
    if m:
        with contextlib.suppress(ValueError):
            return datetime.strptime(m.group(1), "%Y%m%d").date().isoformat()
    m = _ID_DATE_WORDS.match(query_id)
    if m:
        with contextlib.suppress(ValueError):
            return datetime.strptime(f"{m.group(1)} {m.group(2).lower()} {m.group(3)}", "%Y %b %d").date().isoformat()
    return None


def query_articles(split: Split, cleaning: QueryCleaning | None = None) -> list[Check]:
    """Each query as a new article: id = query id, title = the (cleaned) query text,
    checked_on = `query_date` (used by the date prior, `RankOptions.date_weight`)."""
    how = cleaning or NO_CLEANING
    return [
        Check(id=qid, title=clean_query(text, how), checked_on=query_date(qid, text)) for qid, text in split.queries
    ]


# -- ranking ------------------------------------------------------------------------------------
def rank_suggest(
    index: Index,
    articles: Sequence[Check],
    opts: RankOptions | None = None,
    depth: int = DEPTH,
    batch: int = 256,
    vectors: Sequence[Article] | None = None,
    embedder: Callable[[Sequence[str]], np.ndarray] | None = None,
) -> Run:
    """Rank the archive's fact-checks for each article with the code `suggest for` runs.

    Articles are vectorised by `article_from_check` and scored many rows at a time by
    `Ranker.score` (the signals: words, characters, dates); `select` picks the pool items. An
    item stands for the checks that answer it (several when near-identical titles were
    merged), best check first.

    The first entries are the official list: `select` with ``opts.top`` items. When ``depth``
    is larger, `select` runs again with ``top=depth`` and its items not yet listed follow (for
    MRR only; the top-k figures are unchanged). Not applied, because they choose what to show
    an editor rather than what is relevant: `filter_mask` (its default keeps only titles
    phrased as questions; many fact-check titles are not) and the exclusions of `suggest for`
    (questions the article itself answers: here exactly the match sought).

    ``vectors``: the articles already vectorised (`article_from_check`), e.g. rewritten by an
    experiment; by default they are vectorised here. ``embedder``: encodes the articles when
    the index carries embeddings (default: `suggest.embed.Embedder` without a cache).

    Returns
    -------
    dict
        query id -> [(check id, score), ...], best first, at most ``max(depth, opts.top)``.
    """
    opts = opts or RankOptions()
    deep = replace(opts, top=max(depth, opts.top), candidates=max(opts.candidates, depth))
    row_of = {cid: i for i, cid in enumerate(index.check_ids)}
    members = [np.array([row_of[c] for c in rec["answered_by"]], dtype=np.int64) for rec in index.pool_records]
    limit = max(depth, opts.top)
    run: Run = {}
    ranker = Ranker(index, opts, rules=False, kernel=True, embedder=embedder)
    for start in range(0, len(articles), batch):
        chunk = articles[start : start + batch]
        if vectors is not None:
            arts = list(vectors[start : start + batch])
        else:
            arts = [article_from_check(index, a) for a in chunk]
        rows = ranker.score(arts, need=deep.candidates)
        for row, art in zip(rows, chunk, strict=True):
            items = select(index, row, opts)
            if deep.top > opts.top:
                items += [i for i in select(index, row, deep) if i not in items]
            ranked: list[tuple[str, float]] = []
            for it in items:
                cis = members[it]
                sims = row.scores_of_checks(cis)
                score = float(row.score[np.searchsorted(row.items, it)])
                ranked.extend((index.check_ids[ci], score) for ci in cis[np.lexsort((cis, -sims))].tolist())
            run[art.id] = ranked[:limit]
    return run


def peer_text(check: Check) -> str:
    """The text bm25s indexes for a check: title, claim, subtitle and article text."""
    return "\n".join(t for t in (check.title, check.summary, check.body()) if t)


def rank_bm25s(checks: Sequence[Check], articles: Sequence[Check], depth: int = DEPTH) -> Run:
    """The peer: bm25s (Lucene BM25, k1=1.5, b=0.75) with its English stop words and the
    PyStemmer English stemmer, over `peer_text` of each check; query = the article's title.
    Checks that score 0 (no shared word) are left out."""
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    corpus = bm25s.tokenize([peer_text(c) for c in checks], stopwords="en", stemmer=stemmer, show_progress=False)
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    tokens = bm25s.tokenize(
        [a.title for a in articles], stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False
    )
    k = min(depth, len(checks))
    docs, scores = retriever.retrieve(tokens, k=k, show_progress=False, n_threads=1)
    run: Run = {}
    for r, art in enumerate(articles):
        run[art.id] = [(checks[int(d)].id, float(s)) for d, s in zip(docs[r], scores[r], strict=True) if s > 0]
    return run


# -- figures and run files ----------------------------------------------------------------------
def _strict(ranked: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Scores lowered in 1e-6 steps where needed so they strictly fall with rank: ranx and
    trec_eval order by score, and their tie-breaking would reorder equal scores."""
    out, prev = [], math.inf
    for doc, s in ranked:
        s = min(round(s, 6), round(prev - 1e-6, 6))
        out.append((doc, s))
        prev = s
    return out


def metrics(run: Run, qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    """MAP@1, MAP@5, MRR, P@1 and Recall@5 of ``run`` (ranx), over the judged queries.

    A judged query missing from the run (or with an empty list) counts as zero. Average
    precision divides by the number of relevant checks (trec_eval's definition).

    Returns
    -------
    dict
        ``queries`` (judged queries) and the five figures, keys as in `METRICS`.

    Examples
    --------
    >>> metrics({"q": [("a", 2.0), ("b", 1.0)]}, {"q": {"b": 1}})["mrr"]
    0.5
    """
    import warnings

    with warnings.catch_warnings():
        # ranx's numba kernels warn about an int cast on every call; the ids fit easily.
        warnings.simplefilter("ignore")
        from ranx import Qrels, evaluate
        from ranx import Run as RanxRun

    judged = {q: d for q, d in qrels.items() if d}
    if not judged:
        raise SuggestError("no judged queries: the qrels list no relevant fact-check")
    figures: dict[str, float] = {"queries": len(judged)}
    listed = {q: dict(_strict(run[q])) for q in judged if run.get(q)}
    if not listed:
        return figures | {k: 0.0 for k in METRICS[1:]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = evaluate(
            Qrels.from_dict(judged),
            RanxRun.from_dict(listed),
            [_RANX_NAMES[k] for k in METRICS[1:]],
            make_comparable=True,
        )
    for k in METRICS[1:]:
        figures[k] = round(float(got[_RANX_NAMES[k]]), 4)
    return figures


_RUN_LINE = re.compile(rb"^\S+ Q0 \S+ \d+ \S+ \S+\r?$")


def check_run_path(path: str | Path, data: str | Path | None = None) -> None:
    """Refuse a run file inside the evaluation folder ``data`` or over a file that is not a
    TREC run (`suggest.files.claim_file`). Raises `OutputError`."""
    if data is not None:
        files.outside_archive(path, data, "--run")
    files.claim_file(path, lambda head: bool(_RUN_LINE.match(head.split(b"\n", 1)[0])), "a TREC run file")


def write_run(path: str | Path, run: Run, tag: str = "suggest") -> Path:
    """Write ``run`` as a TREC run file atomically: ``qid Q0 docid rank score tag`` a line.

    Scores strictly fall with rank (see `_strict`), so trec_eval and ranx read our order.
    """
    if not re.fullmatch(r"\S+", tag):
        raise OptionError(f"run tag {tag!r} must be one word")
    lines = []
    for qid, ranked in run.items():
        for rank, (doc, s) in enumerate(_strict(ranked), 1):
            lines.append(f"{qid} Q0 {doc} {rank} {s:.6f} {tag}\n")
    path = Path(path)
    check_run_path(path)
    files.atomic_write_text(path, "".join(lines))
    return path


def read_run(path: str | Path) -> Run:
    """Read a TREC run file back (ranked by the rank column)."""
    rows: dict[str, list[tuple[int, str, float]]] = {}
    for no, line in enumerate(_lines(Path(path)), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 6:
            raise ArchiveError(path, "expected 6 fields: qid Q0 docid rank score tag", no)
        rows.setdefault(parts[0], []).append((int(parts[3]), parts[2], float(parts[4])))
    return {q: [(d, s) for _, d, s in sorted(v)] for q, v in rows.items()}


# -- settings -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    """Everything that decides a ranking: index, rank and query-cleaning settings.

    The defaults are those of `suggest for`, except the list rules the evaluation fixes
    (`LIST_RULES`)."""

    config: IndexConfig = field(default_factory=lambda: IndexConfig(dup_threshold=1.0, dup_meaning_threshold=1.0))
    opts: RankOptions = field(default_factory=lambda: RankOptions(mmr_lambda=1.0, min_score=0.0, meaning_min_score=0.0))
    cleaning: QueryCleaning = field(default_factory=QueryCleaning)


LIST_RULES = ("dup_threshold=1", "dup_meaning_threshold=1", "mmr_lambda=1", "min_score=0", "meaning_min_score=0")
"""What `suggest for` does to make a list an editor reads, off in the evaluation, which ranks
fact-checks: it would merge near-identical fact-check titles into one item (hiding relevant
fact-checks), push down a check for resembling one ranked above it (MMR), and stop at a score
floor instead of listing 5. None of them scores relevance; `as-shipped` keeps them."""

PRESETS: dict[str, tuple[str, ...]] = {
    # The scoring of `suggest for` (its defaults), without its list rules; queries cleaned.
    "default": LIST_RULES,
    # `suggest for` exactly, list rules included.
    "as-shipped": (),
    # Ablations of the default: no date prior; words only (no character view, no date prior).
    "no-dates": (*LIST_RULES, "date_weight=0"),
    "words-only": (*LIST_RULES, "char_weight=0", "date_weight=0"),
}


_EXTRA_KEYS = ("clean", "char")


def settings(pairs: Sequence[str] = (), preset: str = "default") -> Settings:
    """Settings from a preset and ``KEY=VALUE`` strings applied over it, in order.

    Keys are the fields of `IndexConfig`, `RankOptions` (not ``top``, ``open_only``, ``since``,
    ``until``: the evaluation fixes them) and `QueryCleaning`; ``clean=none`` turns query
    cleaning off; ``char=MIN-MAX`` sets the character n-gram sizes, ``char=none`` turns the
    character view off. Values are parsed by the field's type.

    Raises
    ------
    OptionError
        For an unknown preset or key, or a value of the wrong type, naming what is known.

    Examples
    --------
    >>> settings(["title_weight=3", "mmr_lambda=1"]).config.title_weight
    3.0
    >>> settings(preset="as-shipped").opts.mmr_lambda == RankOptions().mmr_lambda
    True
    """
    if preset not in PRESETS:
        raise OptionError(f"preset {preset!r}: use one of {', '.join(PRESETS)}")
    groups: list[tuple[type, dict]] = [(IndexConfig, {}), (RankOptions, {}), (QueryCleaning, {})]
    known = {f.name: i for i, (cls, _) in enumerate(groups) for f in fields(cls) if f.name not in UNUSED_OPTIONS}
    cleaning_off = False
    for pair in (*PRESETS[preset], *pairs):
        key, eq, raw = pair.partition("=")
        key, raw = key.strip().replace("-", "_"), raw.strip()
        if key in UNUSED_OPTIONS:
            raise OptionError(
                f"--set {pair!r}: {key} is not used by the evaluation (the official list is 5 "
                "fact-checks, every fact-check a candidate)"
            )
        if not eq or key not in (*known, *_EXTRA_KEYS):
            raise OptionError(
                f"--set {pair!r}: use KEY=VALUE with KEY one of {', '.join(sorted((*known, *_EXTRA_KEYS)))}"
            )
        if key == "clean":
            if raw != "none":
                raise OptionError(f"--set {pair!r}: clean=none is the only value (steps are set one by one)")
            cleaning_off = True
        elif key == "char":
            if raw == "none":
                groups[0][1]["char_weight"] = 0.0
                continue
            lo, dash, hi = raw.partition("-")
            if not (dash and lo.isdigit() and hi.isdigit()):
                raise OptionError(f"--set {pair!r}: use char=MIN-MAX (e.g. 2-4) or char=none")
            groups[0][1]["char_ngram_min"], groups[0][1]["char_ngram_max"] = int(lo), int(hi)
        else:
            i = known[key]
            groups[i][1][key] = _parse(raw, getattr(groups[i][0](), key), pair)
    try:
        return Settings(
            config=IndexConfig(**groups[0][1]),
            opts=RankOptions(**groups[1][1]),
            cleaning=NO_CLEANING if cleaning_off else QueryCleaning(**groups[2][1]),
        )
    except ValueError as exc:
        raise OptionError(f"--set: {exc}") from None


def _parse(raw: str, default: object, pair: str) -> object:
    try:
        if isinstance(default, bool):
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return raw.lower() in ("true", "1", "yes")
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError:
        raise OptionError(f"--set {pair!r}: {raw!r} is not a {type(default).__name__}") from None
    return None if raw.lower() == "none" else raw


# -- the whole evaluation -----------------------------------------------------------------------
class CheckThat:
    """One CheckThat folder, read once; indexes and views built once per setting and reused.

    The evaluation of one split (`evaluate_checkthat`) and the tuning runs and the notebook
    (many settings on the same folder) share it.

    Examples
    --------
    >>> data = CheckThat("../shared/data/checkthat/2021-2a-en")  # doctest: +SKIP
    >>> data.evaluate("dev", settings(preset="no-dates")).figures["suggest"]["map@5"]  # doctest: +SKIP
    """

    def __init__(
        self,
        folder: str | Path,
        progress: Progress | None = None,
        semantic: bool | None = None,
        cache: str | Path | None = None,
        encoding: Callable[[int, int], None] | None = None,
    ) -> None:
        """``semantic``: give the indexes embeddings (None: when the ``semantic`` extra is
        installed); vectors are cached by content in ``cache`` (default: none kept)."""
        from suggest import embed

        semantic = embed.choice(semantic)
        if semantic:
            embed.require()
        self.folder = Path(folder)
        self.say = progress or (lambda _m: None)
        self.semantic = embed.available() if semantic is None else semantic
        self.embedder = embed.Embedder(cache, encoding) if self.semantic else None
        self._checks: list[Check] | None = None
        self._splits: dict[str, Split] = {}
        self._indexes: dict[IndexConfig, Index] = {}
        self.seconds: dict[str, float] = {}

    @property
    def checks(self) -> list[Check]:
        if self._checks is None:
            t = time.perf_counter()
            self.say(f"reading {vclaims_file(self.folder).name}")
            self._checks = load_checks(self.folder)
            self.seconds["load"] = time.perf_counter() - t
        return self._checks

    def split(self, name: str) -> Split:
        if name not in self._splits:
            self._splits[name] = load_split(self.folder, name)
        return self._splits[name]

    def index(self, config: IndexConfig) -> Index:
        if config not in self._indexes:
            checks = self.checks
            t = time.perf_counter()
            self.say(f"indexing {len(checks)} fact-checks")
            self._indexes[config] = build_index(checks, config, embedder=self.embedder)
            self.seconds["index"] = time.perf_counter() - t
        return self._indexes[config]

    def forget(self, keep: IndexConfig | None = None) -> None:
        """Drop the built indexes (all but ``keep``) to free memory; views stay."""
        self._indexes = {c: ix for c, ix in self._indexes.items() if c == keep}

    def evaluate(
        self,
        split: str,
        how: Settings | None = None,
        peer: str | None = "bm25s",
        depth: int = DEPTH,
        limit: int | None = None,
    ) -> Evaluation:
        """Rank ``split`` with `suggest` (and the peer) under ``how``; see `evaluate_checkthat`."""
        how = how or Settings()
        if peer not in (None, "none", "bm25s"):
            raise OptionError(f"--peer {peer}: use bm25s or none")
        data = self.split(split)
        if limit is not None:
            if limit < 1:
                raise OptionError(f"limit {limit}: use 1 or more queries")
            kept = data.queries[:limit]
            data = Split(data.name, kept, {q: data.qrels[q] for q, _ in kept if q in data.qrels}, data.duplicates)
        if data.duplicates:
            self.say(f"note: {split}.qrels repeats {data.duplicates} row(s); counted once")
        result = Evaluation(str(self.folder), split)
        articles = query_articles(data, how.cleaning)
        result.dated = sum(1 for a in articles if a.checked_on)
        index = self.index(how.config)
        result.semantic = (
            index.semantic
            and any(str(s).startswith("meaning") for s in how.opts.signals)
            and bool(how.opts.meaning_weight or how.opts.meaning_question_weight)
        )
        t = time.perf_counter()
        self.say(f"ranking {len(articles)} {split} queries")
        result.runs["suggest"] = rank_suggest(index, articles, how.opts, depth, embedder=self.embedder)
        result.seconds = {k: v for k, v in self.seconds.items()}
        result.seconds["rank"] = time.perf_counter() - t
        result.figures["suggest"] = metrics(result.runs["suggest"], data.qrels)
        if peer == "bm25s":
            t = time.perf_counter()
            self.say("ranking with bm25s")
            result.runs["bm25s"] = rank_bm25s(self.checks, articles, depth)
            result.seconds["bm25s"] = time.perf_counter() - t
            result.figures["bm25s"] = metrics(result.runs["bm25s"], data.qrels)
        return result


def evaluate_checkthat(
    folder: str | Path,
    split: str,
    how: Settings | None = None,
    peer: str | None = "bm25s",
    depth: int = DEPTH,
    limit: int | None = None,
    progress: Progress | None = None,
    semantic: bool | None = None,
    cache: str | Path | None = None,
    encoding: Callable[[int, int], None] | None = None,
) -> Evaluation:
    """Rank one split of a CheckThat folder with `suggest` (and the peer) and measure it.

    Parameters
    ----------
    folder : a CheckThat folder (see the module docstring).
    split : a split name present in the folder (``train``, ``dev``, ``test``...).
    how : the settings (default `Settings()`: the scoring of `suggest for` without its list
        rules, `LIST_RULES`; queries cleaned).
    peer : ``"bm25s"`` or None (or ``"none"``).
    depth : list length per query (the first ``how.opts.top`` are the official list).
    limit : only the first ``limit`` queries of the split (quick runs).
    progress : callback for status lines.
    semantic, cache, encoding : the embeddings (see `CheckThat`); ``encoding`` gets (done,
        total) of the texts being encoded.

    Returns
    -------
    Evaluation
        ``figures[system]`` with the keys of `METRICS`, ``runs[system]``, ``seconds``.

    Raises
    ------
    SuggestError
        A missing split or fact-check file, a malformed line, a bad option.

    Examples
    --------
    >>> evaluate_checkthat("data/2021-2a-en", "dev").figures["bm25s"]["map@5"]  # doctest: +SKIP
    """
    data = CheckThat(folder, progress, semantic, cache, encoding)
    data.split(split)  # a missing split fails before the slow reading of the fact-checks
    return data.evaluate(split, how, peer, depth, limit)


def figures_table(figures: dict[str, dict[str, float]]) -> str:
    """The figures of each system side by side, one metric a line."""
    systems = list(figures)
    lines = ["metric    " + "".join(f"{s:>10}" for s in systems)]
    for k in METRICS:
        cells = "".join(f"{int(figures[s][k]):>10d}" if k == "queries" else f"{figures[s][k]:>10.4f}" for s in systems)
        lines.append(f"{k:<10}{cells}")
    return "\n".join(lines) + "\n"
