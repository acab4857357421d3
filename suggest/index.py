"""Build, save and load the TF-IDF index over the archive's checks and its question pool.

Building uses scikit-learn's ``TfidfVectorizer`` on our own tokens. The saved index is a folder
of plain files that the query path reads with numpy alone: the sorted vocabulary, the idf, a
word-to-stem table, the check and question matrices (memory-mapped) and the records.
"""

from __future__ import annotations

import json
import os
import platform
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from suggest import files, store
from suggest.archive import ReadCache, fingerprint, read_archive
from suggest.build import Built, build_matrices, champion_postings, char_grams, char_text, l2, quantize, unigram_view
from suggest.chunks import CountCache
from suggest.errors import EmptyArchiveError, IndexFormatError, OptionError, SuggestError
from suggest.pool import Pool, build_pool
from suggest.records import Archive, Check, IndexConfig, day_number
from suggest.text import analyze_with, ngrams

FORMAT_VERSION = 9
# The plain arrays of an `Index`, saved and loaded by name.
_ARRAYS = (
    "check_dates",
    "pair_item",
    "pair_check",
    "pair_raised",
    "member_item",
    "member_check",
    "member_is_title",
    "answered",
    "unigram",
    "shown_member",
    "askable",
    "char_mean",
)


@dataclass
class Index:
    """A built (or loaded) index. Use `build_index` or `Index.load`; then `suggest` ranks."""

    config: IndexConfig
    terms: Sequence[str]
    idf: np.ndarray
    stems: Mapping[str, str]
    checks_matrix: sp.csr_matrix  # checks x terms, unit rows
    pool_matrix: sp.csr_matrix  # pool items x terms, unit rows
    member_matrix: sp.csr_matrix  # titles and questions x terms, unit rows
    check_ids: list[str]
    check_dates: np.ndarray  # ordinal day or -1
    check_records: Sequence[dict]
    pool_records: Sequence[dict]
    pair_item: np.ndarray  # (item, check) context pairs, sorted by item
    pair_check: np.ndarray
    pair_raised: np.ndarray  # the pair's check raised the item (else it only answers it)
    member_item: np.ndarray
    member_check: np.ndarray
    member_is_title: np.ndarray
    answered: np.ndarray  # bool per pool item
    shown_member: np.ndarray  # member row of the text each pool item shows
    askable: np.ndarray  # bool per pool item: its text is a question (suggestable)
    unigram: np.ndarray  # bool per term: a single word (not a word pair)
    char_terms: Sequence[str] = ()
    char_idf: np.ndarray = field(default_factory=lambda: np.zeros(0))
    char_matrix: sp.csr_matrix = field(default_factory=lambda: sp.csr_matrix((0, 0), dtype=np.float32))
    char_mean: np.ndarray = field(default_factory=lambda: np.zeros(0))  # mean of char_matrix rows
    manifest: dict = field(default_factory=dict)
    check_emb: np.ndarray | None = None  # checks x embedding dims, unit rows (`suggest.embed`)
    pool_emb: np.ndarray | None = None  # pool items x embedding dims; zero rows: not encoded
    _char_lookup: Callable[[str], int] | None = None
    _search: dict[str, sp.csr_matrix] = field(default_factory=dict)
    _check_pairs: tuple[np.ndarray, np.ndarray] | None = None
    _item_start: np.ndarray | None = None
    _lens: dict[str, np.ndarray] = field(default_factory=dict)
    _memo: dict = field(default_factory=dict)
    """Arrays the ranking derives from the whole index and reuses for every chunk (see
    `suggest.rank.score_rows`), keyed by what they depend on."""
    _term_lookup: Callable[[str], int] | None = None
    _pool1: sp.csr_matrix | None = None
    _shown1: sp.csr_matrix | None = None

    def shown_unigram(self, items: np.ndarray) -> sp.csr_matrix:
        """Single-word view of the texts the given pool items show."""
        if self._shown1 is None:
            rows = np.asarray(self.shown_member)
            self._shown1 = unigram_view(self.member_matrix[rows], np.asarray(self.unigram, dtype=bool))
        return self._shown1[items]

    @property
    def pool_unigram(self) -> sp.csr_matrix:
        """Single-word view of the pool (for "same question in other words" tests)."""
        if self._pool1 is None:
            self._pool1 = unigram_view(self.pool_matrix, np.asarray(self.unigram, dtype=bool))
        return self._pool1

    def search(self, name: str) -> sp.csr_matrix:
        """The search postings of ``"checks"``, ``"chars"`` or ``"pool"``: terms x rows (CSR,
        one term per row), each term keeping its ``config.postings_max`` heaviest rows
        (`champion_postings`). ``vectors @ index.search(name)`` scores a chunk of articles
        reading only their terms' lists. Saved with the index; built on first use for an
        index built in memory."""
        if name not in self._search:
            m = {"checks": self.checks_matrix, "chars": self.char_matrix, "pool": self.pool_matrix}[name]
            self._search[name] = champion_postings(m, self.config.postings_max)
        return self._search[name]

    def check_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(pair numbers ordered by check, start of each check's run): the items check ``c``
        raised or answered are ``pair_item[order[start[c]:start[c + 1]]]``."""
        if self._check_pairs is None:
            order = np.argsort(np.asarray(self.pair_check), kind="stable")
            start = np.searchsorted(np.asarray(self.pair_check)[order], np.arange(len(self.check_dates) + 1))
            self._check_pairs = (order, start)
        return self._check_pairs

    def item_start(self) -> np.ndarray:
        """Start of each pool item's run of pairs: item ``i``'s pairs are
        ``item_start[i]:item_start[i + 1]`` (pairs are sorted by item)."""
        if self._item_start is None:
            n = self.pool_matrix.shape[0]
            self._item_start = np.searchsorted(np.asarray(self.pair_item), np.arange(n + 1))
        return self._item_start

    def search_lens(self, name: str) -> np.ndarray:
        """Postings per term of `search` ``name`` (computed once: ~18 million terms at a million
        checks, too many to count again for every chunk)."""
        if name not in self._lens:
            self._lens[name] = np.diff(self.search(name).indptr)
        return self._lens[name]

    def in_memory(self) -> Index:
        """A copy for ranking many articles: the check ids in a list (a loaded index reads each
        from its JSON record on access, and ranking looks ids up many times per check), the small
        per-pair and per-check arrays in memory rather than memory-mapped (a slice of a memmap
        costs more than the read)."""
        arrays: dict[str, Any] = {
            name: np.array(getattr(self, name))
            for name in ("pair_item", "pair_check", "pair_raised", "member_check", "member_is_title", "check_dates")
        }
        ids = self.check_ids if isinstance(self.check_ids, list) else list(self.check_ids)
        copy = replace(self, check_ids=ids, **arrays)
        order, start = self.check_pairs()
        copy._check_pairs = (np.array(order), np.array(start))
        return copy

    def members_of(self, row: int) -> np.ndarray:
        """Member rows (its title first, then its questions) of the check in ``row``."""
        lo, hi = np.searchsorted(self.member_check, [row, row + 1])
        return np.arange(lo, hi)

    # -- vectorising new text (numpy only) --------------------------------------------------
    def term_id(self, term: str) -> int:
        if self._term_lookup is None:
            self._term_lookup = _lookup(self.terms)
        return self._term_lookup(term)

    def field_vector(self, text: str) -> dict[int, float]:
        """Unit-length TF-IDF of one text, as scikit-learn would compute it with this vocabulary."""
        tokens = ngrams(analyze_with(text, self.stems), self.config.ngram_max)
        counts: dict[int, int] = {}
        for t, n in Counter(tokens).items():  # each distinct term looked up once
            i = self.term_id(t)
            if i >= 0:
                counts[i] = n
        if not counts:
            return {}
        ids = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        if self.config.sublinear_tf:
            tf = np.log(tf) + 1.0
        w = tf * np.asarray(self.idf[ids], dtype=np.float64)
        w /= np.sqrt((w * w).sum())
        return dict(zip(ids.tolist(), w.tolist(), strict=True))

    def vector(self, parts: dict[str, str], weights: dict[str, float] | None = None) -> sp.csr_matrix:
        """A check-like vector from field texts (weighted unit field vectors, unit length)."""
        weights = weights or self.config.weights()
        acc: dict[int, float] = {}
        for name, text in parts.items():
            wf = weights.get(name, 0.0)
            if not text or wf == 0:
                continue
            for i, v in self.field_vector(text).items():
                acc[i] = acc.get(i, 0.0) + wf * v
        return self._row(acc)

    def _row(self, acc: dict[int, float]) -> sp.csr_matrix:
        n_terms = len(self.idf)
        if not acc:
            return sp.csr_matrix((1, n_terms), dtype=np.float64)
        ids = np.array(sorted(acc), dtype=np.int64)
        vals = np.array([acc[i] for i in ids.tolist()], dtype=np.float64)
        vals /= np.sqrt((vals * vals).sum())
        return sp.csr_matrix((vals.astype(np.float32), ids, np.array([0, len(ids)])), shape=(1, n_terms))

    def text_vector(self, text: str) -> sp.csr_matrix:
        return self._row(self.field_vector(text))

    def char_vector(self, check: Check) -> sp.csr_matrix:
        """The unit-length character view of a check or article (1 x char terms), as
        scikit-learn computes it with this vocabulary; empty when the view is off."""
        cfg = self.config
        n = len(self.char_idf)
        if self._char_lookup is None:
            self._char_lookup = _lookup(self.char_terms)
        counts: dict[int, int] = {}
        if n:
            grams: dict[str, int] = {}
            for g in char_grams(char_text(check, cfg.char_chars), cfg.char_ngram_min, cfg.char_ngram_max):
                grams[g] = grams.get(g, 0) + 1
            for g, k in grams.items():  # each distinct n-gram looked up once
                i = self._char_lookup(g)
                if i >= 0:
                    counts[i] = k
        if not counts:
            return sp.csr_matrix((1, n), dtype=np.float32)
        ids = np.array(sorted(counts), dtype=np.int64)
        tf = np.log(np.array([counts[i] for i in ids.tolist()], dtype=np.float64)) + 1.0
        w = tf * np.asarray(self.char_idf[ids], dtype=np.float64)
        w /= np.sqrt((w * w).sum())
        return sp.csr_matrix((w.astype(np.float32), ids, np.array([0, len(ids)])), shape=(1, n))

    # -- persistence -------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Write the index atomically: a new version folder, then a symlink swap.

        Returns the folder written. Raises `OutputError` when it cannot be written.
        """
        target = Path(folder)
        store.check_replaceable(target)
        try:
            built = store.new_version_dir(target)
        except OSError as exc:
            raise SuggestError(
                f"{target}: cannot create the index ({exc.strerror}); pass --index DIR to put it elsewhere"
            ) from None
        try:
            store.write_strings(built, "terms", self.terms)
            store.save_array(built, "idf", np.asarray(self.idf, dtype=np.float64))
            store.write_strings(built, "char_terms", self.char_terms)
            store.save_array(built, "char_idf", np.asarray(self.char_idf, dtype=np.float64))
            stem_words = sorted(self.stems)
            store.write_strings(built, "stem_words", stem_words)
            store.write_strings(built, "stem_stems", [self.stems[w] for w in stem_words])
            # One matrix made and written at a time; postings this save made for itself are let
            # go once written (a built index is saved, then loaded back mapped), so that they
            # are never all in memory together.
            made_here = {"checks", "chars", "pool"} - set(self._search)
            for name, make in (
                ("checks", lambda: self.checks_matrix),
                ("pool", lambda: self.pool_matrix),
                ("members", lambda: self.member_matrix),
                ("chars", lambda: self.char_matrix),
                ("checks_t", lambda: self.search("checks")),
                ("chars_t", lambda: self.search("chars")),
                ("pool_t", lambda: self.search("pool")),
                ("pool1", lambda: self.pool_unigram),
                ("shown1", lambda: self.shown_unigram(np.arange(self.pool_matrix.shape[0]))),
            ):
                m = make()
                m = m if isinstance(m, sp.csc_matrix) else sp.csr_matrix(m)
                # np.asarray: no copy of an array that already has the saved type
                store.save_array(built, f"{name}.data", np.asarray(m.data, dtype=np.float32))
                store.save_array(built, f"{name}.indices", np.asarray(m.indices, dtype=np.int32))
                store.save_array(built, f"{name}.indptr", np.asarray(m.indptr, dtype=np.int64))
                del m
                if name.endswith("_t") and name[:-2] in made_here:
                    del self._search[name[:-2]]
            for name in _ARRAYS:
                store.save_array(built, name, np.asarray(getattr(self, name)))
            if self.check_emb is not None and self.pool_emb is not None:
                store.save_array(built, "check_emb", np.asarray(self.check_emb, dtype=np.float32))
                store.save_array(built, "pool_emb", np.asarray(self.pool_emb, dtype=np.float32))
            order, start = self.check_pairs()
            store.save_array(built, "pair_order", np.asarray(order, dtype=np.int64))
            store.save_array(built, "pair_start", np.asarray(start, dtype=np.int64))
            store.write_jsonl(built, "checks", list(self.check_records))
            store.write_jsonl(built, "pool", list(self.pool_records))
            files = sorted(p.name for p in built.iterdir())
            manifest = dict(self.manifest)
            manifest["files"] = {f: store.file_digest(built / f) for f in files}
            (built / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", "utf-8")
            store.swap_in(built, target)
        except OSError as exc:
            import shutil

            shutil.rmtree(built, ignore_errors=True)
            raise SuggestError(
                f"{target}: cannot write the index ({exc.strerror or exc}); free space or pass --index DIR"
            ) from None
        return target

    @classmethod
    def load(cls, folder: str | Path, verify: bool = True) -> Index:
        """Load a saved index (memory-mapped). Raises `IndexFormatError` if it is damaged."""
        shown = Path(folder)
        real = Path(os.path.realpath(shown))
        for _ in range(5):
            try:
                return cls._load(shown, real, verify)
            except (IndexFormatError, OSError) as exc:
                # A builder swapped in a new version and removed this one while we read it: read that.
                moved = Path(os.path.realpath(shown))
                if moved == real:
                    if isinstance(exc, OSError):
                        raise IndexFormatError(
                            f"{shown}: cannot read the index ({exc.strerror or exc}); run `suggest index`"
                        ) from None
                    raise
                real = moved
        raise IndexFormatError(f"{shown}: the index was rebuilt five times while being read; try again")

    @classmethod
    def _load(cls, shown: Path, folder: Path, verify: bool) -> Index:
        manifest, config, counts = _read_manifest(shown, folder, verify)
        terms = store.Strings(folder, "terms")
        idf = store.load_array(folder, "idf")
        n_terms = len(idf)

        char_terms = store.Strings(folder, "char_terms")
        char_idf = store.load_array(folder, "char_idf")

        def matrix(name: str, rows: int, n_terms: int = n_terms, by_term: bool = False) -> sp.csr_matrix:
            data = store.load_array(folder, f"{name}.data")
            indices = store.load_array(folder, f"{name}.indices")
            indptr = store.load_array(folder, f"{name}.indptr")
            if (
                len(indptr) != (n_terms if by_term else rows) + 1
                or indptr[-1] != len(data)
                or len(indices) != len(data)
            ):
                raise IndexFormatError(f"{shown}: {name} matrix is damaged; run `suggest index`")
            kind = sp.csc_matrix if by_term else sp.csr_matrix
            return kind((np.asarray(data, dtype=np.float32), indices, indptr), shape=(rows, n_terms))

        arrays = {n: store.load_array(folder, n) for n in _ARRAYS}
        check_records = store.Records(folder, "checks")
        index = cls(
            config=config,
            terms=terms,
            idf=idf,
            stems=StemTable(store.Strings(folder, "stem_words"), store.Strings(folder, "stem_stems")),
            checks_matrix=matrix("checks", counts["checks"]),
            pool_matrix=matrix("pool", counts["pool"]),
            member_matrix=matrix("members", counts["members"]),
            char_terms=char_terms,
            char_idf=char_idf,
            char_matrix=matrix("chars", counts["checks"], len(char_idf)),
            check_ids=[],
            check_records=check_records,
            pool_records=store.Records(folder, "pool"),
            manifest=manifest,
            **arrays,  # type: ignore[arg-type]
        )
        index._term_lookup = terms.find
        index._char_lookup = char_terms.find
        index._pool1 = matrix("pool1", counts["pool"])
        index._shown1 = matrix("shown1", counts["pool"])
        index._search = {
            "checks": matrix("checks_t", counts["checks"], by_term=True).T,
            "chars": matrix("chars_t", counts["checks"], len(char_idf), by_term=True).T,
            "pool": matrix("pool_t", counts["pool"], by_term=True).T,
        }
        order = store.load_array(folder, "pair_order")
        start = store.load_array(folder, "pair_start")
        if len(order) != len(arrays["pair_check"]) or len(start) != counts["checks"] + 1:
            raise IndexFormatError(f"{shown}: pair tables are damaged; run `suggest index`")
        index._check_pairs = (order, start)
        index.check_ids = _LazyIds(check_records)  # type: ignore[assignment]
        if manifest.get("semantic"):
            check_emb = store.load_array(folder, "check_emb")
            pool_emb = store.load_array(folder, "pool_emb")
            dim = manifest["semantic"].get("dim")
            if check_emb.shape != (counts["checks"], dim) or pool_emb.shape != (counts["pool"], dim):
                raise IndexFormatError(f"{shown}: the embeddings do not match the index; run `suggest index`")
            index.check_emb, index.pool_emb = check_emb, pool_emb
        return index

    @property
    def semantic(self) -> bool:
        """Whether the index carries embeddings (`suggest.embed`)."""
        return self.check_emb is not None and self.pool_emb is not None


def _lookup(terms: Sequence[str]) -> Callable[[str], int]:
    """A term's id in ``terms`` (sorted), or -1: a binary search in a `store.StringTable`, a
    dictionary otherwise."""
    if isinstance(terms, store.StringTable):
        return terms.find
    table = {t: i for i, t in enumerate(terms)}
    return lambda t: table.get(t, -1)


def _read_manifest(shown: Path, folder: Path, verify: bool) -> tuple[dict, IndexConfig, dict]:
    """(manifest, settings, counts) of the saved index in ``folder``, checked: its format
    version, the digest of every file it lists (``verify``), settings, counts and archive.
    Raises `IndexFormatError` naming what is wrong and the fix."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    except FileNotFoundError:
        raise IndexFormatError(f"{shown}: no index here; run `suggest index`") from None
    except (OSError, ValueError):
        raise IndexFormatError(f"{shown}: manifest.json is damaged; run `suggest index`") from None
    if not isinstance(manifest, dict):
        raise IndexFormatError(f"{shown}: manifest.json is damaged; run `suggest index`")
    if manifest.get("format_version") != FORMAT_VERSION:
        got = manifest.get("format_version")
        raise IndexFormatError(
            f"{shown}: index format version {got}, this suggest reads {FORMAT_VERSION}; run `suggest index` to rebuild"
        )
    if verify:
        files = manifest.get("files")
        if not isinstance(files, dict):
            raise IndexFormatError(f"{shown}: manifest lists no files; run `suggest index`")
        for name, digest in files.items():
            p = folder / name
            if not p.is_file() or store.file_digest(p) != digest:
                raise IndexFormatError(f"{shown}: {name} is missing or damaged; run `suggest index`")
    try:
        saved = manifest["config"]
        missing = {f.name for f in fields(IndexConfig)} - set(saved)
        if missing:  # written by a suggest without these settings: built another way
            raise TypeError(f"no {', '.join(sorted(missing))}")
        config = IndexConfig(**saved)
    except (KeyError, TypeError, OptionError) as exc:
        raise IndexFormatError(f"{shown}: manifest settings unreadable ({exc}); run `suggest index`") from None
    counts = manifest.get("counts")
    if not isinstance(counts, dict) or not all(type(counts.get(k)) is int for k in ("checks", "pool", "members")):
        raise IndexFormatError(f"{shown}: manifest counts unreadable; run `suggest index`")
    if not isinstance(manifest.get("archive"), dict):
        raise IndexFormatError(f"{shown}: manifest names no archive; run `suggest index`")
    return manifest, config, counts


class StemTable(Mapping[str, str]):
    """The saved word-to-stem table: two aligned string tables, words sorted, looked up by
    binary search (no parsing at load time)."""

    def __init__(self, words: store.Strings, stems: store.Strings) -> None:
        if len(words) != len(stems):
            raise IndexFormatError(f"{words.folder}: the stem table is damaged; run `suggest index`")
        self.words, self.stems = words, stems

    def __getitem__(self, word: str) -> str:
        i = self.words.find(word)
        if i < 0:
            raise KeyError(word)
        return self.stems[i]

    def get(self, word: str, default=None):  # type: ignore[no-untyped-def, override]
        i = self.words.find(word)
        return self.stems[i] if i >= 0 else default

    def __iter__(self) -> Iterator[str]:
        return iter(self.words)

    def __len__(self) -> int:
        return len(self.words)


class _LazyIds(Sequence[str]):
    def __init__(self, records: Sequence[dict]) -> None:
        self.records = records

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i):  # type: ignore[override]
        return self.records[i]["id"]


def build_index(
    checks: Sequence[Check],
    config: IndexConfig | None = None,
    archive_root: str | None = None,
    archive_fingerprint: str | None = None,
    progress: Callable[[str], None] | None = None,
    jobs: int = 1,
    workdir: str | Path | None = None,
    spilled: Archive | None = None,
    embedder: Callable[[Sequence[str]], np.ndarray] | None = None,
    cache: CountCache | None = None,
) -> Index:
    """Build the TF-IDF index and the question pool for ``checks``.

    Parameters
    ----------
    checks : the archive's checks (any order; the index sorts them by id).
    config : index settings; defaults to `IndexConfig()`.
    archive_root, archive_fingerprint : recorded in the manifest to notice archive changes.
    progress : optional callback for status lines.
    jobs : worker processes for the build (`suggest.build`); 1 builds in this process.
    workdir : folder for the build's temporary files (default: the system's temporary folder);
        they take about as much space as the saved index and are removed at the end.
    spilled : the archive ``checks`` come from, when it was read with ``spill`` (slim checks):
        their texts are read back from its spill files, a chunk at a time.
    embedder : texts -> unit vectors (`suggest.embed.Embedder`): the index then carries the
        embeddings of its checks and questions (`add_embeddings`); None: words only.
    cache : counts of chunks kept from earlier builds (`suggest.chunks.CountCache`); the index
        is the same with or without it.

    Returns
    -------
    Index

    Raises
    ------
    EmptyArchiveError
        When there are no checks.

    Examples
    --------
    >>> from suggest.records import Check
    >>> ix = build_index([Check(id="a", title="Is tea good?", questions=("Does tea help sleep?",))])
    >>> [r["text"] for r in ix.pool_records]
    ['Is tea good?', 'Does tea help sleep?']
    """

    config = config or IndexConfig()
    if not checks:
        raise EmptyArchiveError("the archive has no readable checks; add saved articles to it")
    say = progress or (lambda _m: None)
    if spilled is not None:  # the rows come in the archive's order, read back from its spill files
        built = build_matrices(checks, config, say, jobs=jobs, workdir=workdir, spilled=spilled, cache=cache)
        checks = sorted(checks, key=lambda c: c.id)
    else:
        checks = sorted(checks, key=lambda c: c.id)
        built = build_matrices(checks, config, say, jobs=jobs, workdir=workdir, cache=cache)
    say("merging questions")
    vocab = built.terms
    members = built.members
    mc, mt, member_text = built.member_check, built.member_is_title, built.member_text
    unigram = built.unigram
    member_emb = None
    if embedder is not None and config.dup_meaning_threshold < 1:  # questions in other words merge
        say("encoding titles and questions")
        member_emb = embedder(member_text)
    pool = build_pool(
        checks, unigram_view(members, unigram), built.pool_checks1, mc, mt, member_text, config, member_emb=member_emb
    )
    del built.pool_checks1
    n_items = len(pool.texts)
    pool_matrix = _pool_matrix(pool, members)

    pool_records = _pool_records(pool, checks)
    counts = {
        "checks": len(checks),
        "pool": n_items,
        "members": len(member_text),
        "terms": len(vocab),
        "char_terms": len(built.grams),
        "questions": int((~mt).sum()),
        "open": sum(1 for r in pool_records if r["status"] == "open"),
    }
    manifest = {
        "format_version": FORMAT_VERSION,
        "config": asdict(config),
        "counts": counts,
        "archive": {"root": archive_root, "fingerprint": archive_fingerprint},
        "python": platform.python_version(),
    }
    index = _assemble(config, built, pool, checks, unigram, pool_matrix, pool_records, manifest)
    if embedder is not None:
        say("encoding checks")
        add_embeddings(index, checks, embedder)
    return index


def embedding_texts(index: Index, checks: Sequence[Check]) -> tuple[list[str], list[int], list[str]]:
    """What an index's embeddings encode: (each check's text, the pool items encoded, their
    texts). A check stands for itself by its title and summary (`suggest.embed.check_text`); the
    items encoded are the questions some check raised (a title alone scores through its check,
    `suggest.rank`), by the text each shows."""
    from suggest.embed import check_text

    texts = [check_text(c.title, c.summary, "\n".join(c.questions)) for c in checks]
    raised = np.zeros(len(index.pool_records), dtype=bool)
    raised[np.asarray(index.pair_item)[np.asarray(index.pair_raised, dtype=bool)]] = True
    items = np.flatnonzero(raised).tolist()
    return texts, items, [index.pool_records[i]["text"] for i in items]


def embedded_texts(index: Index, checks: Sequence[Check]) -> list[str]:
    """Every text a build of ``index`` encodes (what its cache keeps): `embedding_texts`, and
    every title and question when the pool merges by meaning."""
    texts, _, item_texts = embedding_texts(index, checks)
    members = [v for r in index.pool_records for v in r["variants"]] if index.config.dup_meaning_threshold < 1 else []
    return [*texts, *item_texts, *members]


def add_embeddings(index: Index, checks: Sequence[Check], embedder: Callable[[Sequence[str]], np.ndarray]) -> None:
    """Give ``index`` (built from ``checks``, sorted by id) the embeddings of its checks and of
    its raised questions (other pool rows stay zero), and say so in its manifest."""
    from suggest import embed

    texts, items, item_texts = embedding_texts(index, checks)
    vecs = embedder([*texts, *item_texts])
    index.check_emb = np.ascontiguousarray(vecs[: len(texts)], dtype=np.float32)
    pool_emb = np.zeros((len(index.pool_records), embed.DIM), dtype=np.float32)
    pool_emb[items] = vecs[len(texts) :]
    index.pool_emb = pool_emb
    index.manifest["semantic"] = {
        "model": embed.MODEL,
        "weights_sha256": embed.WEIGHTS_SHA256,
        "dim": embed.DIM,
        "checks": "title and summary (else questions), at most 200 words",
        "questions": int(len(items)),
    }


def _assemble(
    config: IndexConfig,
    built: Built,
    pool: Pool,
    checks: Sequence[Check],
    unigram: np.ndarray,
    pool_matrix: sp.csr_matrix,
    pool_records: list[dict],
    manifest: dict,
) -> Index:
    """The `Index` of a build: its matrices, records and per-item and per-pair tables."""
    pair_item, pair_check, pair_raised = _pairs(pool)
    check_records = [
        {"id": c.id, "title": c.title, "checked_on": c.checked_on, "category": c.category, "url": c.url, "path": c.path}
        for c in checks
    ]
    return Index(
        config=config,
        terms=built.terms,
        idf=built.idf,
        stems=dict(sorted(built.stems.items())),
        checks_matrix=built.checks,
        pool_matrix=pool_matrix,
        member_matrix=built.members,
        check_ids=[c.id for c in checks],
        check_dates=np.array([day_number(c.checked_on) for c in checks], dtype=np.int64),
        check_records=check_records,
        pool_records=pool_records,
        pair_item=pair_item,
        pair_check=pair_check,
        pair_raised=pair_raised,
        member_item=pool.member_item,
        member_check=built.member_check,
        member_is_title=built.member_is_title,
        answered=np.array([bool(a) for a in pool.answered_by], dtype=bool),
        unigram=unigram,
        char_terms=built.grams,
        char_idf=built.char_idf,
        char_matrix=built.chars,
        char_mean=np.asarray(built.chars.mean(axis=0), dtype=np.float64).ravel(),
        shown_member=pool.shown_member,
        # A title that is a statement or a bare topic ("Grand juries") still answers questions,
        # but is not offered as a question itself.
        askable=np.array(
            [bool(r) or t.rstrip().endswith("?") for r, t in zip(pool.raised_by, pool.texts, strict=True)], dtype=bool
        ),
        manifest=manifest,
    )


def _pool_matrix(pool: Pool, members: sp.csr_matrix) -> sp.csr_matrix:
    """Each pool item's vector: the sum of its members' (titles' and questions') rows, unit length."""
    agg = sp.csr_matrix(
        (np.ones(len(pool.member_item)), (pool.member_item, np.arange(len(pool.member_item)))),
        shape=(len(pool.texts), members.shape[0]),
    )
    return quantize(l2(sp.csr_matrix(agg @ members)))


def _pairs(pool: Pool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (item, check) pairs of the pool, sorted: each check that raised or answers an item,
    and whether it raised it."""
    n_items = len(pool.texts)
    pairs = sorted({(it, ci) for it in range(n_items) for ci in pool.raised_by[it] + pool.answered_by[it]})
    raised_pairs = {(it, ci) for it in range(n_items) for ci in pool.raised_by[it]}
    return (
        np.array([p[0] for p in pairs], dtype=np.int64),
        np.array([p[1] for p in pairs], dtype=np.int64),
        np.array([p in raised_pairs for p in pairs], dtype=bool),
    )


def _pool_records(pool: Pool, checks: Sequence[Check]) -> list[dict]:
    """What the pool's saved records say of each item: its text, status, the checks that raised
    and answer it (ids), the dates it was raised on, its other wordings."""
    ids = [c.id for c in checks]

    def dates_of(cis: list[int]) -> list[str]:
        return sorted({d for ci in cis if (d := checks[ci].checked_on)})

    return [
        {
            "text": pool.texts[it],
            "status": "answered" if pool.answered_by[it] else "open",
            "answered_by": [ids[ci] for ci in pool.answered_by[it]],
            "raised_by": [ids[ci] for ci in pool.raised_by[it]],
            "raised_on": dates_of(pool.raised_by[it]),
            "variants": pool.variants[it],
        }
        for it in range(len(pool.texts))
    ]


def default_index_dir(archive: str | Path) -> Path:
    """Where the index of ``archive`` lives by default: ``.suggest-index`` inside the folder
    (or beside a single archive file)."""
    p = Path(archive)
    if p.is_file():
        return p.parent / f".{p.name}.suggest-index"
    return p / ".suggest-index"


def open_index(
    archive: str | Path,
    index_dir: str | Path | None = None,
    config: IndexConfig | None = None,
    notify: Callable[[str], None] | None = None,
    force: bool = False,
    jobs: int | None = None,
    progress: Callable[[str], None] | None = None,
    semantic: bool | None = None,
    encoding: Callable[[int, int], None] | None = None,
    cache: bool | None = None,
) -> tuple[Index, Archive | None]:
    """The up-to-date index of ``archive``: loaded if fresh, else (re)built and saved.

    Rebuilds, with a note through ``notify``, when the archive changed, the settings changed,
    the index is damaged or of another format version. Builders hold a lock so two at once end
    with one good index; readers never see a half-written one.

    ``jobs``: worker processes for a build (default: all cores; an archive of a few hundred
    checks is built in this process); ``progress``: status lines of a build. The `Archive`
    returned after a build holds its checks without their sections (`suggest.archive.slim`).

    ``semantic`` (None: $SUGGEST_SEMANTIC, `suggest.embed.choice`): True, the index must carry embeddings (an index without them is rebuilt;
    `SemanticUnavailable` when the extra is missing); False, a build leaves them out; None, a
    build adds them when the ``semantic`` extra is installed, and a fresh index is used as it
    is. Vectors are cached by content beside the index (``.NAME.embeddings``): a rebuild
    encodes only new and changed texts, and a killed one resumes. ``encoding``: (done, total)
    of the texts being encoded.

    ``cache`` (None: $SUGGEST_COUNT_CACHE, else on): keep each chunk's counts and what each
    file gave beside the index (``.NAME.counts``), so that a build after a change counts only
    what changed; False: a build neither reads nor keeps them, and removes the folder (it
    takes about as much disk as the index).

    Returns the index and the `Archive` when it had to read the archive (else None).
    """
    from suggest.embed import choice

    semantic = choice(semantic)
    say = notify or (lambda _m: None)
    archive = Path(archive)
    if not archive.exists():
        raise SuggestError(f"{archive}: no such archive; pass --archive DIR or set SUGGEST_ARCHIVE")
    folder = Path(index_dir) if index_dir else default_index_dir(archive)
    config = config or IndexConfig()
    fp = fingerprint(archive)

    def fresh() -> Index | None:
        if force:
            return None
        try:
            ix = Index.load(folder)
        except IndexFormatError as exc:
            if (folder / "manifest.json").exists() or folder.is_symlink():
                say(f"note: rebuilding the index: {exc}")
            return None
        if ix.manifest.get("archive", {}).get("fingerprint") != fp:
            say(f"note: the archive {archive} changed since the index was built; updating the index")
            return None
        if ix.config != config:
            say("note: index settings changed; rebuilding the index")
            return None
        if semantic and not ix.semantic:
            say("note: the index has no embeddings; rebuilding it with them")
            return None
        return ix

    if semantic:
        from suggest.embed import require

        require()  # before any work
    ix = fresh()
    if ix is not None:
        return ix, None
    lock = folder.parent / f".{folder.name}.lock"
    with files.locked(lock):
        force_once = force
        force = False
        ix = None if force_once else fresh_quiet(folder, fp, config)
        if ix is not None and not (semantic and not ix.semantic):
            return ix, None
        store.check_replaceable(folder)  # before the work of a build, not after it
        embedder = None
        if semantic or (semantic is None and _semantic_installed()):
            from suggest.embed import Embedder

            embedder = Embedder(embedding_cache(folder), encoding)
        counts: CountCache | None = None
        files_read: ReadCache | None = None
        if cache_choice(cache):
            counts = CountCache(count_cache(folder), read=not force_once)
            files_read = ReadCache(count_cache(folder) / "files.jsonl")
            if force_once:  # every file read again
                files_read.entries.clear()
        else:
            import shutil

            shutil.rmtree(count_cache(folder), ignore_errors=True)
        try:
            built, arch = _build_from(
                archive, folder, config, fp, jobs or os.cpu_count() or 1, say, progress, embedder, counts, files_read
            )
        except SuggestError:
            if not os.path.lexists(folder):  # no index was ever made here: leave nothing behind
                files.drop_lock(lock)
            raise
        built.save(folder)
        if counts is not None and files_read is not None:
            counts.compact()
            if not counts.unsaved:
                counts.unsaved = files_read.save()
        if counts is not None and counts.unsaved:
            say(
                f"note: {count_cache(folder)}: the cache of counts could not be written ({counts.unsaved}); "
                "the index is complete, but the next update counts every check again"
            )
        if embedder is not None:
            embedder.compact(embedded_texts(built, arch.checks))
            if embedder.unsaved:
                say(
                    f"note: {embedding_cache(folder)}: the embedding cache could not be written "
                    f"({embedder.unsaved}); the index is complete, but the next build encodes again"
                )
        return Index.load(folder), arch


def cache_choice(flag: bool | None) -> bool:
    """Whether builds keep the cache of counts: ``flag`` when given, else $SUGGEST_COUNT_CACHE
    (0/off/no/false: no), else yes."""
    if flag is not None:
        return flag
    return os.environ.get("SUGGEST_COUNT_CACHE", "").strip().lower() not in ("0", "off", "no", "false")


def _semantic_installed() -> bool:
    from suggest.embed import available

    return available()


def count_cache(folder: str | Path) -> Path:
    """The cache of chunk counts of the index in ``folder`` (`suggest.chunks`): beside it, hidden."""
    p = Path(folder)
    return p.parent / f".{p.name.lstrip('.')}.counts"


def embedding_cache(folder: str | Path) -> Path:
    """The embedding cache of the index in ``folder``: beside it, hidden."""
    p = Path(folder)
    return p.parent / f".{p.name.lstrip('.')}.embeddings"


def _build_from(
    archive: Path,
    folder: Path,
    config: IndexConfig,
    fp: str,
    workers: int,
    say: Callable[[str], None],
    progress: Callable[[str], None] | None,
    embedder: Callable[[Sequence[str]], np.ndarray] | None = None,
    counts: CountCache | None = None,
    files_read: ReadCache | None = None,
) -> tuple[Index, Archive]:
    """Read ``archive`` and build its index (not saved), reporting every skipped file.

    The build's work files (the archive's full texts, which wait there for the workers while
    this process keeps the checks without their sections, and the matrices' chunks) go beside
    the index, not in a temporary folder that may be small or in memory. A build that was
    killed left its own: the caller holds the lock, so they are nobody's now."""
    import shutil
    import tempfile

    work = folder.parent / f".{folder.name}.work"
    shutil.rmtree(work, ignore_errors=True)
    try:
        work.mkdir(parents=True)
        spill = tempfile.mkdtemp(prefix="read-", dir=work)
    except OSError as exc:
        raise SuggestError(
            f"{work}: cannot create the build's work folder ({exc.strerror}); pass --index DIR to put it elsewhere"
        ) from None
    try:
        arch = read_archive(archive, jobs=workers, spill=spill, cache=files_read)
        for p in arch.problems:
            say(str(p))
        say(f"indexing {archive}: {arch.summary()}")
        built = build_index(
            arch.checks,
            config,
            str(archive),
            fp,
            progress=progress,
            jobs=workers,
            workdir=work,
            spilled=arch,
            embedder=embedder,
            cache=counts,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return built, arch


def fresh_quiet(folder: Path, fp: str, config: IndexConfig) -> Index | None:
    """A fresh index another process finished while we waited for the lock, or None."""
    try:
        ix = Index.load(folder)
    except IndexFormatError:
        return None
    if ix.manifest.get("archive", {}).get("fingerprint") != fp or ix.config != config:
        return None
    return ix
