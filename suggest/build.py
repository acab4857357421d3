"""The index's matrices, built in chunks of checks: memory bounded by a chunk plus the
vocabulary, not by the archive; the chunks' work spread over cores (joblib).

Three passes over chunks of `CHUNK` checks (in id order):

1. *analyse* (parallel): each chunk's word n-grams and character n-grams are counted against
   a vocabulary of the chunk's own (scikit-learn's ``CountVectorizer``); the counts go to a
   work folder, only the chunk's terms and document frequencies come back.
2. the archive's vocabularies are the union of the chunks' (one dict), with document
   frequencies summed: the same terms, ids (sorted order) and smoothed idf
   ``TfidfVectorizer`` fits on the whole archive.
3. *weigh* (parallel): each chunk's counts are weighted as ``TfidfVectorizer.transform``
   weighs them (sublinear tf, idf, unit rows per field; field weights; unit rows) in the
   chunk's own term ids, then renumbered to the archive's. A chunk's sorted terms keep their
   order among the archive's sorted terms, so every row holds its entries in the same order
   a whole-archive build would, and every sum runs in the same order: the matrices equal
   the one-pass build's bit for bit (tests/test_build.py).

The rows are gathered into memory-mapped files in the work folder, which is removed at the
end (on POSIX a removed file stays readable while mapped; the space is freed with the index).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from suggest.archive import spill_file, spill_more, text_digest
from suggest.chunks import CountCache
from suggest.count import Merger
from suggest.records import FIELDS, Archive, Check
from suggest.store import StringTable
from suggest.text import stem, words
from suggest.workers import parallel, release, run_task, worker_count

POOL_WEIGHTS = {"title": 2.0, "summary": 1.0, "body": 1.0, "questions": 0.5}
"""Field weights of the check vectors the pool tests "does this check answer that question"
with; the answer thresholds of `IndexConfig` were set against them on the shipped corpus
(tests/data/corpus_design_*.json), so they stay fixed when the ranking weights change."""


def field_texts(check: Check) -> dict[str, str]:
    """The text of each indexed field of a check."""
    return {
        "title": check.title,
        "summary": check.summary,
        "body": check.body(),
        "questions": "\n".join(check.questions),
    }


def char_text(check: Check, chars: int) -> str:
    """The text of a check's character view: title, summary and body, lower-cased, cut at
    ``chars`` characters."""
    return "\n".join(t for t in (check.title, check.summary, check.body()) if t).lower()[:chars]


def char_grams(text: str, n_min: int, n_max: int) -> list[str]:
    """Character n-grams inside word boundaries, as scikit-learn's ``char_wb`` analyzer forms
    them: each whitespace-separated word padded with one space each side; a word shorter than
    an n gives itself (padded) once.

    Examples
    --------
    >>> char_grams("a cat", 2, 3)
    [' a', 'a ', ' a ', ' c', 'ca', 'at', 't ', ' ca', 'cat', 'at ']
    """
    out: list[str] = []
    for w in text.split():
        w = f" {w} "
        size = len(w)
        for n in range(n_min, n_max + 1):
            if size <= n:
                out.append(w)
                break
            out.extend(w[i : i + n] for i in range(size - n + 1))
    return out


def l2(m: sp.csr_matrix) -> sp.csr_matrix:
    """Rows scaled to unit length (empty rows stay empty)."""
    m = sp.csr_matrix(m)
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    scale = np.repeat(1.0 / norms, np.diff(m.indptr))
    return sp.csr_matrix((m.data * scale, m.indices.copy(), m.indptr.copy()), shape=m.shape)


def quantize(m: sp.csr_matrix) -> sp.csr_matrix:
    """Matrices are float32, in memory as on disk, so every path computes with the same numbers
    and a loaded index is used memory-mapped, without a conversion."""
    return sp.csr_matrix(m, dtype=np.float32)


def unigram_view(m: sp.csr_matrix, unigram: np.ndarray) -> sp.csr_matrix:
    """Rows restricted to single-word terms, unit length again.

    Paraphrases share words far more often than word pairs, so "the same question in other
    words" is judged on this view.
    """
    m = sp.csr_matrix(m)
    keep = unigram[m.indices]
    out = sp.csr_matrix((m.data * keep, m.indices.copy(), m.indptr.copy()), shape=m.shape)
    out.eliminate_zeros()
    return l2(out)


PART_ENTRIES = 1 << 26
"""`champion_postings` transposes a matrix this many entries at a time (~540 MB of arrays)."""


def champion_postings(m: sp.csr_matrix, keep: int, part_entries: int = PART_ENTRIES) -> sp.csr_matrix:
    """Term-major postings of ``m`` (rows x terms): a terms x rows CSR matrix where each term
    keeps its ``keep`` largest weights (equal weights: lower row first; 0 keeps all), rows in
    ascending order within a term.

    With a cut, ``m`` is read a block of rows (about ``part_entries`` entries) at a time and each
    block's lists are merged into the lists so far and cut again: the ``keep`` best of a union
    are the ``keep`` best of the parts' ``keep`` best, so memory follows the result, not ``m``
    (a memory-mapped matrix of 750 million entries at a million checks).

    Examples
    --------
    >>> m = sp.csr_matrix(np.array([[0.5, 0.1], [0.9, 0.2], [0.7, 0.0]], dtype=np.float32))
    >>> champion_postings(m, 2).toarray()
    array([[0. , 0.9, 0.7],
           [0.1, 0.2, 0. ]], dtype=float32)
    >>> champion_postings(m, 2, part_entries=1).toarray()
    array([[0. , 0.9, 0.7],
           [0.1, 0.2, 0. ]], dtype=float32)
    """
    m = m if isinstance(m, sp.csr_matrix) else sp.csr_matrix(m)
    if not keep or m.nnz <= part_entries:
        return _cut(_transpose(m), keep)
    indptr = np.asarray(m.indptr)
    out: sp.csr_matrix | None = None
    lo = 0
    while lo < m.shape[0]:
        # The block: rows from lo while their entries fit (one row at least).
        hi = max(int(np.searchsorted(indptr, indptr[lo] + part_entries, side="right")) - 1, lo + 1)
        s, e = int(indptr[lo]), int(indptr[hi])  # a view of the rows: nothing copied before the transpose
        block = _transpose(
            sp.csr_matrix((m.data[s:e], m.indices[s:e], indptr[lo : hi + 1] - s), shape=(hi - lo, m.shape[1]))
        )
        rows = (block.indices + lo).astype(np.int32 if m.shape[0] < 2**31 else np.int64)
        data, indptr_t = block.data, block.indptr
        del block
        part = _cut(sp.csr_matrix((data, rows, indptr_t), shape=(m.shape[1], m.shape[0])), keep)
        del data, rows, indptr_t
        if out is not None:
            # Rows of different blocks are distinct, so the sum is the union, rows ascending.
            merged = sp.csr_matrix(out + part)
            del out, part  # at most two copies of the lists at once
            part = _cut(merged, keep)
            del merged
        out = part
        lo = hi
    assert out is not None
    return out


def _transpose(m: sp.csr_matrix) -> sp.csr_matrix:
    t = sp.csr_matrix(sp.csr_matrix(m, dtype=np.float32).T)
    t.sort_indices()
    return t


def _cut(t: sp.csr_matrix, keep: int) -> sp.csr_matrix:
    """Each row of ``t`` (terms x rows, sorted) cut to its ``keep`` largest weights."""
    lens = np.diff(t.indptr)
    if not keep or not len(lens) or lens.max() <= keep:
        return t
    # Only the long lists are cut: a partition per list, no sort of every entry.
    kept = np.ones(t.nnz, dtype=bool)
    for j in np.flatnonzero(lens > keep).tolist():
        s, e = int(t.indptr[j]), int(t.indptr[j + 1])
        v = t.data[s:e]
        least = np.partition(v, e - s - keep)[e - s - keep]  # the keep-th largest weight
        sel = v > least
        ties = np.flatnonzero(v == least)[: keep - int(sel.sum())]  # rows ascending: lower first
        sel[ties] = True
        kept[s:e] = sel
    indptr = np.zeros(t.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.minimum(lens, keep), out=indptr[1:])
    return sp.csr_matrix((t.data[kept], t.indices[kept], indptr), shape=t.shape)


CHUNK = 4096
"""Checks per chunk: about 20 MB of text and under 1 GB at a worker's peak; a chunk of a
spilled archive reads the spill files (of `SPILL_PIECE` checks) it spans. Chunks of 16,384
counted no faster per check (0.98x, measured on PolitiFact-sized checks) at twice the memory."""


@dataclass
class Analysed:
    """What one chunk's analysis sends back (its counts stay in the work folder): its
    vocabularies as `suggest.count` digits over its own sorted symbols."""

    chunk: int
    words: list[str]  # the chunk's stems, sorted
    terms: np.ndarray  # its word n-grams: digits over ``words``, sorted
    df: np.ndarray  # checks of the chunk with each term
    alphabet: np.ndarray  # the code points of its character view, sorted
    grams: np.ndarray  # its character n-grams: digits over ``alphabet``, sorted
    gram_df: np.ndarray
    stems: dict[str, str]  # every indexed word of the chunk and its stem


@dataclass
class Built:
    """The matrices of the whole archive."""

    terms: StringTable  # sorted
    unigram: np.ndarray  # per term: a single word, not a word pair
    idf: np.ndarray
    stems: dict[str, str]
    checks: sp.csr_matrix  # checks x terms, unit rows, float32 (memory-mapped)
    pool_checks1: sp.csr_matrix  # single-word view of the pool-weighted check vectors (mapped)
    members: sp.csr_matrix  # titles and questions x terms, unit rows, float32
    member_check: np.ndarray
    member_is_title: np.ndarray
    member_text: list[str]
    grams: StringTable  # sorted
    char_idf: np.ndarray
    chars: sp.csr_matrix  # checks x character n-grams, unit rows, float32 (memory-mapped)


Spilled = tuple[tuple[str, tuple[int, ...]], ...]
"""A chunk of a spilled archive: (spill file of `read_archive`, places in it) in order."""


def _load(source: Sequence[Check] | Spilled) -> Sequence[Check]:
    """A chunk's checks: given, or read from the spill files it spans."""
    if not isinstance(source, tuple):
        return source
    import pickle  # our own work files, written by this run's reader

    out: list[Check] = []
    for path, places in source:
        with open(path, "rb") as f:
            full = pickle.load(f)
        out.extend(full[i] for i in places)
    return out


def analyse(source: Sequence[Check] | Spilled, chunk: int, config, work: str) -> Analysed:  # type: ignore[no-untyped-def]
    """Pass 1 for one chunk: count its terms (`suggest.count`); counts saved under ``work``."""
    from suggest.count import Symbols, char_counts, word_counts

    checks = _load(source)
    symbols = Symbols()
    stems: dict[str, str] = {}
    word_id: dict[str, int] = {}

    def ids(text: str) -> list[int]:
        out = []
        for w in words(text):
            i = word_id.get(w)
            if i is None:  # each distinct word stemmed once
                s = stems[w] = stem(w)
                i = word_id[w] = symbols.id(s)
            out.append(i)
        return out

    n = len(checks)
    seqs: list[list[int]] = []  # the fields of every check, field by field, then the members
    texts = [field_texts(c) for c in checks]
    for name in FIELDS:
        seqs.extend(ids(t[name]) for t in texts)
    titles = seqs[:n]
    for i, c in enumerate(checks):
        seqs.append(titles[i])
        seqs.extend(ids(q) for q in c.questions)
    sorted_words, rank = symbols.sorted()
    width = max(config.ngram_max, 1)
    terms, every = word_counts(seqs, width, rank)
    bounds = [k * n for k in range(len(FIELDS) + 1)] + [len(seqs)]
    counts = [every[bounds[k] : bounds[k + 1]] for k in range(len(FIELDS) + 1)]
    doc = counts[0]
    for m in counts[1 : len(FIELDS)]:
        doc = doc + m  # a term anywhere in the check
    df = np.bincount(doc.indices, minlength=len(terms)).astype(np.int64)
    width = max(config.char_ngram_max, 1)
    grams, gram_df, alphabet = np.zeros((0, width), dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, np.int64)
    chars = sp.csr_matrix((n, 0))
    if config.char_weight:
        grams, chars, alphabet = char_counts(
            [char_text(c, config.char_chars) for c in checks], config.char_ngram_min, config.char_ngram_max
        )
        gram_df = np.bincount(chars.indices, minlength=len(grams)).astype(np.int64)
    folder = Path(work) / f"a{chunk:06d}"
    folder.mkdir()
    for name, m in zip((*FIELDS, "members", "chars"), (*counts, chars), strict=True):
        sp.save_npz(folder / f"{name}.npz", m, compressed=False)
    return Analysed(chunk, sorted_words, terms, df, alphabet, grams, gram_df, stems)


def _tfidf(counts: sp.csr_matrix, idf: np.ndarray, sublinear: bool) -> sp.csr_matrix:
    """``TfidfTransformer.transform`` (l2 norm) with a given idf, on a CSR count matrix."""
    from sklearn.preprocessing import normalize

    x = sp.csr_matrix(counts, dtype=np.float64, copy=True)
    if sublinear:
        np.log(x.data, x.data)
        x.data += 1.0
    x.data *= idf[x.indices]
    return sp.csr_matrix(normalize(x, norm="l2", copy=False))


def _renumber(m: sp.csr_matrix, ids: np.ndarray, n: int) -> sp.csr_matrix:
    """``m`` with column j moved to ``ids[j]`` (increasing) in ``n`` columns; ids < 0 dropped."""
    m = sp.csr_matrix(m)
    new = ids[m.indices]
    keep = new >= 0
    if keep.all():
        return sp.csr_matrix((m.data, new.astype(np.int32), m.indptr), shape=(m.shape[0], n))
    before = np.zeros(m.nnz + 1, dtype=np.int64)  # kept entries before each position
    np.cumsum(keep, out=before[1:])
    return sp.csr_matrix((m.data[keep], new[keep].astype(np.int32), before[m.indptr]), shape=(m.shape[0], n))


def weigh(
    chunk: int,
    work: str,
    config,  # type: ignore[no-untyped-def]
    ids: np.ndarray,
    idf: np.ndarray,
    unigram: np.ndarray,
    n_terms: int,
    gram_ids: np.ndarray,
    gram_idf: np.ndarray,
    n_grams: int,
) -> dict[str, np.ndarray]:
    """Pass 3 for one chunk: weighted rows in the archive's term ids, saved under ``work``.

    ``ids``, ``idf``, ``unigram`` (and the ``gram_`` ones) are given per term of the chunk's
    own vocabulary. Returns the entries of each row of each matrix.
    """

    folder = Path(work) / f"a{chunk:06d}"
    weights = config.weights()
    acc = pool_acc = None
    for name in FIELDS:
        m = _renumber(_tfidf(sp.load_npz(folder / f"{name}.npz"), idf, config.sublinear_tf), ids, n_terms)
        acc = m * weights[name] if acc is None else acc + m * weights[name]
        pool_acc = m * POOL_WEIGHTS[name] if pool_acc is None else pool_acc + m * POOL_WEIGHTS[name]
    checks = quantize(l2(sp.csr_matrix(acc)))
    unigram_all = np.zeros(n_terms, dtype=bool)
    unigram_all[ids] = unigram  # only the chunk's terms are ever looked at
    pool1 = unigram_view(quantize(l2(sp.csr_matrix(pool_acc))), unigram_all)
    members = _renumber(_tfidf(sp.load_npz(folder / "members.npz"), idf, config.sublinear_tf), ids, n_terms)
    members = quantize(members)
    counts = sp.load_npz(folder / "chars.npz")
    if n_grams:
        # Pruned n-grams are dropped before weighting, as TfidfVectorizer's max_df/min_df do.
        kept = _renumber(counts, np.where(gram_ids >= 0, np.arange(len(gram_ids)), -1), len(gram_ids))
        chars = _renumber(_tfidf(kept, gram_idf, True), gram_ids, n_grams)
        # CountVectorizer leaves each row in the order its n-grams first occur (the weights are
        # computed in that order, as a one-pass build computes them); stored sorted.
        chars.sort_indices()
    else:
        chars = sp.csr_matrix((checks.shape[0], 0))
    chars = quantize(chars)
    out = {"checks": checks, "pool1": pool1, "members": members, "chars": chars}
    for name, m in out.items():
        sp.save_npz(folder / f"w-{name}.npz", m, compressed=False)
    for name in (*FIELDS, "members", "chars"):
        (folder / f"{name}.npz").unlink()
    return {name: np.diff(m.indptr).astype(np.int64) for name, m in out.items()}


def _run(tasks: Iterable, n_tasks: int, jobs: int) -> Iterator:
    """Results of ``tasks`` (joblib ``delayed`` calls, made as they are dispatched) in order;
    in this process when there is one job or one task."""
    jobs = worker_count(jobs, n_tasks)
    if jobs <= 1:
        return (f(*a, **kw) for f, a, kw in tasks)
    return parallel(jobs)(tasks)


def _gather(
    work: Path,
    bounds: list[tuple[int, int]],
    name: str,
    lens: np.ndarray,
    order: np.ndarray | None,
    cols: int,
    dtype: type,
) -> sp.csr_matrix:
    """The chunks' ``name`` rows as one CSR matrix whose data and indices are mapped files.

    ``lens``: every row's entries, in chunk order; ``order``: the chunk-order row of each
    final row (None: the same order).
    """
    final_lens = lens if order is None else lens[order]
    indptr = np.zeros(len(lens) + 1, dtype=np.int64)
    np.cumsum(final_lens, out=indptr[1:])
    nnz = int(indptr[-1])
    start = indptr[:-1]
    if order is not None:
        start = np.empty(len(lens), dtype=np.int64)
        start[order] = indptr[:-1]  # where each chunk-order row goes
    data = np.lib.format.open_memmap(work / f"{name}.data.npy", mode="w+", dtype=dtype, shape=(nnz,))
    indices = np.lib.format.open_memmap(work / f"{name}.indices.npy", mode="w+", dtype=np.int32, shape=(nnz,))
    for k, (s, e) in enumerate(bounds):
        path = work / f"a{k:06d}" / f"w-{name}.npz"
        m = sp.load_npz(path)
        if order is None:
            pos = int(start[s]) if s < len(start) else nnz
            data[pos : pos + m.nnz] = m.data
            indices[pos : pos + m.nnz] = m.indices
        else:
            dest = np.repeat(start[s:e] - m.indptr[:-1], np.diff(m.indptr)) + np.arange(m.nnz)
            data[dest] = m.data
            indices[dest] = m.indices
        path.unlink()
    data.flush()
    indices.flush()
    del data, indices
    data = np.load(work / f"{name}.data.npy", mmap_mode="r")
    indices = np.load(work / f"{name}.indices.npy", mmap_mode="r")
    return sp.csr_matrix((data, indices, indptr), shape=(len(lens), cols))


def _step(k: int, n: int) -> bool:
    """Chunk ``k`` of ``n`` ends a tenth of the work (progress is said about ten times)."""
    return (k + 1) * 10 // n != k * 10 // n


def _idf(df: np.ndarray, n: int) -> np.ndarray:
    """scikit-learn's smoothed idf: ln((1 + n) / (1 + df)) + 1, computed as it computes it."""
    d = df.astype(np.float64) + 1.0
    idf = np.full_like(d, fill_value=n + 1, dtype=np.float64)
    idf /= d
    np.log(idf, out=idf)
    idf += 1.0
    return idf


def build_matrices(
    checks: Sequence[Check],
    config,  # type: ignore[no-untyped-def]
    say: Callable[[str], None],
    jobs: int = 1,
    workdir: str | Path | None = None,
    chunk: int | None = None,
    spilled: Archive | None = None,
    cache: CountCache | None = None,
) -> Built:
    """Every matrix of the index of ``checks``, rows in id order, in chunks; see the module notes.

    ``jobs``: worker processes (1 works in this process); ``workdir``: where the work folder
    goes (default: the system's temporary folder); ``chunk``: checks per chunk (default: cut by
    content, `suggest.chunks.bounds`; the result does not depend on it); ``spilled``: an archive
    read with ``spill`` whose (slim) checks are ``checks``: each chunk's checks are read from the
    spill files by the worker that counts them, so this process never holds the archive's
    text; ``cache``: chunks' counts kept from earlier builds (`suggest.chunks.CountCache`): a
    chunk found there is not counted again. Raises `EmptyArchiveError` when the checks hold no
    indexable word.
    """
    from suggest.chunks import bounds as content_bounds
    from suggest.chunks import chunk_key, file_cuts

    n = len(checks)
    jobs = max(1, min(jobs, os.cpu_count() or 1))
    digests = spilled.digests if spilled is not None else [text_digest(c) for c in checks]
    if chunk:
        bounds = [(s, min(s + chunk, n)) for s in range(0, n, chunk)]
    else:
        cuts = file_cuts([f for f, _, _ in spilled.origins]) if spilled is not None and spilled.origins else []
        bounds = content_bounds(digests, CHUNK, cuts)
    keys = [chunk_key(digests[s:e], config) for s, e in bounds]
    work = Path(tempfile.mkdtemp(prefix="suggest-build-", dir=workdir))
    try:
        say(f"counting terms: {n} checks in {len(bounds)} chunks, {jobs} process{'es' if jobs > 1 else ''}")

        def sources(todo: list[int]) -> list:  # what the workers of the chunks to count read
            if spilled is not None:
                spill_more(spilled, [i for k in todo for i in range(*bounds[k])])
            return _sources(checks, [bounds[k] for k in todo], spilled)

        vocab = _count_chunks(sources, config, work, jobs, bounds, say, cache, keys)
        say(f"{len(vocab.terms)} terms, {len(vocab.grams)} character n-grams; weighing")
        lens = _weigh_chunks(vocab, config, work, jobs, bounds, say)
        if worker_count(jobs, len(bounds)) > 1:  # the build's last parallel step: workers go now
            release()
        vocab.word_ids.clear()
        vocab.gram_ids.clear()
        say("gathering rows")
        return _gather_rows(checks, vocab, vocab.stems, lens, work, bounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _sources(checks: Sequence[Check], bounds: list[tuple[int, int]], spilled: Archive | None) -> list:
    """What each chunk's worker reads: its checks, or (from a spilled archive) the spill files
    its checks are in, with its own places in them."""
    if spilled is None:
        return [checks[s:e] for s, e in bounds]
    where = [spill_file(str(spilled.spill), g, i) for g, i in spilled.sources]  # archive order
    sources: list[Spilled] = []
    for s, e in bounds:
        spans: list[tuple[str, list[int]]] = []
        for path, at in where[s:e]:
            if not spans or spans[-1][0] != path:
                spans.append((path, []))
            spans[-1][1].append(at)
        sources.append(tuple((path, tuple(at)) for path, at in spans))
    return sources


def _count_chunks(
    sources: Callable[[list[int]], list],
    config,  # type: ignore[no-untyped-def]
    work: Path,
    jobs: int,
    bounds: list[tuple[int, int]],
    say: Callable[[str], None],
    cache: CountCache | None = None,
    keys: Sequence[str] = (),
) -> _Vocabulary:
    """Pass 1 (`analyse` in workers, for the chunks ``cache`` does not have) and the archive's
    vocabularies from the chunks'; each chunk's counts are left in the work folder."""
    import joblib

    from suggest.errors import EmptyArchiveError

    done: dict[int, Analysed] = {}  # chunks counted but not yet added to the vocabularies
    word_terms, char_terms = Merger(), Merger()
    stems: dict[str, str] = {}
    added = 0

    def fold() -> None:
        # Chunks join the vocabularies in order as soon as they can, so that only the few
        # that arrived early are held whole (at a million checks, holding all of them took
        # more memory than anything else in the build).
        nonlocal added
        while added in done:
            a = done.pop(added)
            word_terms.add(a.words, a.terms, a.df)
            char_terms.add(a.alphabet.tolist(), a.grams, a.gram_df)
            stems.update(a.stems)
            added += 1

    hits = []
    if cache is not None:
        for k, key in enumerate(keys):
            hit = cache.get(key, work / f"a{k:06d}")
            if hit is not None:
                w, arrays, st = hit
                done[k] = Analysed(
                    k, w, arrays["terms"], arrays["df"], arrays["alphabet"], arrays["grams"], arrays["gram_df"], st
                )
                hits.append(k)
                fold()
        if hits:
            say(
                f"counts of {sum(bounds[k][1] - bounds[k][0] for k in hits)} checks ({len(hits)} of {len(bounds)} chunks) from the cache"
            )
    me = os.getpid()
    cached = set(hits)
    todo = [k for k in range(len(bounds)) if k not in cached]
    tasks = (
        joblib.delayed(run_task)(me, analyse, src, k, config, str(work))
        for k, src in zip(todo, sources(todo), strict=True)
    )
    for i, a in enumerate(_run(tasks, len(todo), jobs)):
        done[a.chunk] = a
        if cache is not None:
            arrays = {"terms": a.terms, "df": a.df, "alphabet": a.alphabet, "grams": a.grams, "gram_df": a.gram_df}
            cache.put(keys[a.chunk], work / f"a{a.chunk:06d}", a.words, arrays, a.stems)
        fold()
        if _step(i, len(todo)):
            say(
                f"counted the terms of {sum(bounds[k][1] - bounds[k][0] for k in todo[: i + 1])} of {sum(bounds[k][1] - bounds[k][0] for k in todo)} checks"
            )
    fold()
    if added != len(bounds) or done:  # a worker's result lost: never a vocabulary that misses it
        raise RuntimeError(f"chunks counted: {added} of {len(bounds)}")
    vocab = _Vocabulary.of(word_terms, char_terms, bounds[-1][1], config)
    if not len(vocab.terms):
        raise EmptyArchiveError("the archive's checks contain no indexable words")
    vocab.stems = dict(sorted(stems.items()))
    return vocab


@dataclass
class _Vocabulary:
    """The archive's vocabularies (sorted) and idf; each chunk's term ids in them (``word_ids``;
    ``gram_ids``: -1 for a character n-gram outside the document-frequency range)."""

    terms: StringTable
    idf: np.ndarray
    unigram: np.ndarray
    grams: StringTable
    char_idf: np.ndarray
    word_ids: list[np.ndarray]
    gram_ids: list[np.ndarray]
    stems: dict[str, str]

    @classmethod
    def of(cls, words: Merger, chars: Merger, n: int, config) -> _Vocabulary:  # type: ignore[no-untyped-def]
        """Number the terms and weigh them."""
        from suggest.count import spell_table

        symbols, digits, df, word_ids = words.finish()
        terms = spell_table(digits, symbols, " ")
        unigram = digits[:, 1] == 0 if digits.shape[1] > 1 else np.ones(len(terms), dtype=bool)
        alphabet, gdigits, gdf, gram_ids = chars.finish()
        low = 2 if n > 1 else 1
        high = max(int(config.char_max_df * n), low)
        kept = (gdf >= low) & (gdf <= high)
        new = np.where(kept, np.cumsum(kept) - 1, -1)
        grams = spell_table(gdigits[kept], [chr(c) for c in alphabet], "")
        return cls(terms, _idf(df, n), unigram, grams, _idf(gdf[kept], n), word_ids, [new[g] for g in gram_ids], {})


def _weigh_chunks(
    vocab: _Vocabulary,
    config,  # type: ignore[no-untyped-def]
    work: Path,
    jobs: int,
    bounds: list[tuple[int, int]],
    say: Callable[[str], None],
) -> dict[str, list[np.ndarray]]:
    """Pass 3 (`weigh` in workers): each chunk's rows weighted in the archive's term ids, left
    in the work folder; returns the row lengths of each matrix, chunk by chunk."""
    import joblib

    me = os.getpid()

    def task(k: int):  # type: ignore[no-untyped-def]
        ids, gids = vocab.word_ids[k], vocab.gram_ids[k]
        gidf = vocab.char_idf[np.maximum(gids, 0)] if len(vocab.grams) else np.zeros(len(gids))
        return joblib.delayed(run_task)(
            me,
            weigh,
            k,
            str(work),
            config,
            ids,
            vocab.idf[ids],
            vocab.unigram[ids],
            len(vocab.terms),
            gids,
            gidf,
            len(vocab.grams),
        )

    lens: dict[str, list[np.ndarray]] = {"checks": [], "pool1": [], "members": [], "chars": []}
    for k, counts in enumerate(_run((task(k) for k in range(len(bounds))), len(bounds), jobs)):
        for name, v in counts.items():
            lens[name].append(v)
        if _step(k, len(bounds)):
            say(f"weighed {bounds[k][1]} of {bounds[-1][1]} checks")
    return lens


def _gather_rows(
    checks: Sequence[Check],
    vocab: _Vocabulary,
    stems: dict[str, str],
    lens: dict[str, list[np.ndarray]],
    work: Path,
    bounds: list[tuple[int, int]],
) -> Built:
    """The weighted rows of every chunk put together, checks (and their members: title, then
    questions) in id order."""
    n = len(checks)
    by_id = sorted(range(n), key=lambda i: checks[i].id)
    order = None if by_id == list(range(n)) else np.asarray(by_id, dtype=np.int64)
    ranked = [checks[i] for i in by_id]
    member_text = [t for c in ranked for t in (c.title, *c.questions)]
    count = np.array([1 + len(c.questions) for c in checks], dtype=np.int64)  # chunk order
    first = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(count, out=first[1:])
    member_order = None
    if order is not None:  # each check's members, in the checks' final order
        final_first = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(count[order], out=final_first[1:])
        member_order = np.repeat(first[order] - final_first[:-1], count[order]) + np.arange(int(first[-1]))
    member_bounds = [(int(first[s]), int(first[e])) for s, e in bounds]

    def gather(name: str, cols: int, rows: list[tuple[int, int]] = bounds, to=order) -> sp.csr_matrix:  # type: ignore[no-untyped-def]
        return _gather(work, rows, name, np.concatenate(lens[name]), to, cols, np.float32)

    members = gather("members", len(vocab.terms), member_bounds, member_order)
    final_count = count[order] if order is not None else count
    member_is_title = np.zeros(len(member_text), dtype=bool)
    member_is_title[np.cumsum(np.concatenate(([0], final_count[:-1])))] = True
    return Built(
        terms=vocab.terms,
        unigram=vocab.unigram,
        idf=vocab.idf,
        stems=stems,
        checks=gather("checks", len(vocab.terms)),
        pool_checks1=gather("pool1", len(vocab.terms)),
        members=sp.csr_matrix((np.array(members.data), np.array(members.indices), members.indptr), shape=members.shape),
        member_check=np.repeat(np.arange(n), final_count).astype(np.int64),
        member_is_title=member_is_title,
        member_text=member_text,
        grams=vocab.grams,
        char_idf=vocab.char_idf if len(vocab.grams) else np.zeros(0),
        chars=gather("chars", len(vocab.grams)),
    )
