"""Term counting with arrays: word n-grams and character n-grams of a chunk of checks counted
as integer keys, never as one Python string per occurrence.

A term is a row of *digits*: the 1-based ranks of its symbols (a word n-gram's stems, a
character n-gram's characters) in the chunk's sorted symbols, padded with 0 to the longest
n. Symbols never contain a character below the space that joins them (word n-grams are
joined by a space, stems are ``\\w`` characters), so sorting the rows sorts the terms as
their strings sort: the vocabulary is in string order without comparing strings.

`Merger` unites the chunks' vocabularies the same way, and gives each chunk's terms their
ids in the archive's sorted vocabulary (increasing, as `suggest.build` needs).

Counts come out canonical (each row's columns ascending, no duplicates); tests/test_count.py
checks the terms and counts against string-by-string counting, tests/test_build.py the index's
matrices against scikit-learn's ``TfidfVectorizer``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from suggest.store import StringTable

_INT64_MAX = np.iinfo(np.int64).max


def _packable(base: int, width: int) -> bool:
    return base**width <= _INT64_MAX


def _pack(rows: np.ndarray, base: int) -> np.ndarray:
    """Rows of digits (< ``base``) as one int64 each, in the same order."""
    key = np.zeros(len(rows), dtype=np.int64)
    for j in range(rows.shape[1]):
        key *= base
        key += rows[:, j]
    return key


Columns = list[tuple[np.ndarray, list[np.ndarray]]]
"""Occurrences in groups of one length n: (their rows, their n digit columns)."""


def terms_of(groups: Columns, width: int, base: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(each occurrence's row, the distinct terms as sorted rows of ``width`` digits, each
    occurrence's term) for occurrences given as digit columns (digits < ``base``)."""
    rows = np.concatenate([r for r, _ in groups]) if groups else np.zeros(0, dtype=np.int64)
    if _packable(base, width):  # one int64 per occurrence, in the terms' order
        keys = []
        for _, cols in groups:
            key = np.zeros(len(cols[0]) if cols else 0, dtype=np.int64)
            for c in cols:
                key *= base
                key += c
            key *= base ** (width - len(cols))
            keys.append(key)
        uniq, inverse = _unique_inverse(np.concatenate(keys) if keys else np.zeros(0, np.int64), base**width)
        digits = np.zeros((len(uniq), width), dtype=np.int64)
        for j in range(width - 1, -1, -1):
            uniq, digits[:, j] = np.divmod(uniq, base)
        return rows, digits, inverse.ravel().astype(np.int64)
    full = np.zeros((len(rows), width), dtype=np.int64)
    at = 0
    for r, cols in groups:
        for j, c in enumerate(cols):
            full[at : at + len(r), j] = c
        at += len(r)
    return rows, *unique_rows(full, base)


def sorted_unique(keys: np.ndarray, in_place: bool = False) -> np.ndarray:
    """``np.unique`` of a 1-d integer array by one sort (numpy 2's hashing ``unique`` took 4.5 s
    on the 2.9 million word terms of 19,250 checks, the sort 0.4 s); ``in_place``: sort
    ``keys`` itself rather than a copy."""
    if in_place:
        keys.sort()
    else:
        keys = np.sort(keys)
    if len(keys) < 2:
        return keys
    new = np.empty(len(keys), dtype=bool)
    new[0] = True
    np.not_equal(keys[1:], keys[:-1], out=new[1:])
    return keys[new]


def _unique_inverse(keys: np.ndarray, bound: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(keys, return_inverse=True)`` for keys in [0, ``bound``): each key's place
    rides in its low bits through one plain sort when both fit in 63 bits (a sort of values is
    several times faster than the indirect sort ``np.unique`` needs for the inverse)."""
    n = len(keys)
    if not n:
        return keys, np.zeros(0, dtype=np.int64)
    shift = max(int(n - 1).bit_length(), 1)
    if int(bound - 1).bit_length() + shift > 63:
        uniq, inverse = np.unique(keys, return_inverse=True)
        return uniq, inverse.ravel().astype(np.int64)
    both = keys << shift
    both |= np.arange(n, dtype=np.int64)
    both.sort()
    place = both & ((1 << shift) - 1)
    both >>= shift  # the keys, sorted
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(both[1:], both[:-1], out=new[1:])
    inverse = np.empty(n, dtype=np.int64)
    inverse[place] = np.cumsum(new) - 1
    return both[new], inverse


def rolling_keys(
    sym: np.ndarray, left: np.ndarray, owner: np.ndarray, sizes: Sequence[int], width: int, base: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """(each occurrence's row, its int64 key) for every run of n symbols (n in ``sizes``) that
    starts at a position whose ``left`` (symbols from it to the end of its word or sequence) is
    at least n, each key built up one symbol at a time over the whole array, with no gather per
    n-gram; None when the keys would not fit in an int64."""
    if not _packable(base, width):
        return None
    key = np.zeros(len(sym), dtype=np.int64)
    rows, keys = [], []
    for n in range(1, max(sizes, default=0) + 1):
        j = n - 1  # the n-th symbol of the term that starts at i is sym[i + j]
        if j < len(sym):
            key[: len(sym) - j] += sym[j:] * base ** (width - n)
        if n in sizes:
            at = np.flatnonzero(left >= n)
            rows.append(owner[at])
            keys.append(key[at])
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(rows), np.concatenate(keys)


def _digits(keys: np.ndarray, width: int, base: int) -> np.ndarray:
    """Packed keys back to rows of ``width`` digits."""
    digits = np.zeros((len(keys), width), dtype=np.int64)
    for j in range(width - 1, -1, -1):
        keys, digits[:, j] = np.divmod(keys, base)
    return digits


def rolling_terms(
    sym: np.ndarray, left: np.ndarray, owner: np.ndarray, sizes: Sequence[int], width: int, base: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """`terms_of` for the runs `rolling_keys` finds; None when their keys would not fit in an
    int64 (`terms_of` does it then)."""
    found = rolling_keys(sym, left, owner, sizes, width, base)
    if found is None:
        return None
    rows, keys = found
    uniq, inverse = _unique_inverse(keys, base**width)
    return rows, _digits(uniq, width, base), inverse


def keyed_counts(
    rows: np.ndarray, keys: np.ndarray, bound: int, n_rows: int
) -> tuple[np.ndarray, sp.csr_matrix] | None:
    """(the distinct keys, sorted; how often each (row, key) occurs, as `count_matrix` gives it
    with the keys' places as columns) by one sort of (row, key) pairs packed in an int64 (keys
    in [0, ``bound``)); None when they do not fit. One sort of the occurrences instead of two
    (`_unique_inverse`, then `count_matrix`), and the vocabulary from the distinct pairs."""
    if not len(keys):
        return keys, sp.csr_matrix((n_rows, 0), dtype=np.float32)
    if int(max(n_rows, 1)).bit_length() + int(bound - 1).bit_length() > 63:
        return None
    both = rows * bound
    both += keys
    both.sort()
    new = np.empty(len(both), dtype=bool)
    new[0] = True
    np.not_equal(both[1:], both[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    counts = np.diff(np.append(starts, len(both)))
    r, k = np.divmod(both[starts], bound)
    uniq = sorted_unique(k)
    c = np.searchsorted(uniq, k)  # ascending within each row: canonical
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(r, minlength=n_rows), out=indptr[1:])
    return uniq, sp.csr_matrix((counts.astype(np.float32), c.astype(np.int32), indptr), shape=(n_rows, len(uniq)))


def unique_rows(rows: np.ndarray, base: int) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct rows of digits, sorted; each row's place among them)."""
    if not len(rows):
        return rows, np.zeros(0, dtype=np.int64)
    if _packable(base, rows.shape[1]):
        return terms_of([(np.zeros(len(rows), np.int64), list(rows.T))], rows.shape[1], base)[1:]
    uniq, inverse = np.unique(rows, axis=0, return_inverse=True)
    return uniq, inverse.ravel().astype(np.int64)


def count_matrix(row: np.ndarray, col: np.ndarray, n_rows: int, n_cols: int) -> sp.csr_matrix:
    """How often each (row, col) pair occurs, as a canonical CSR matrix of float32 (exact: a
    count is at most the words of one check, far below 2**24; weighing is done in float64)."""
    width = max(n_cols, 1)
    keys = row.astype(np.int64) * width + col
    keys.sort()
    new = np.empty(len(keys), dtype=bool)
    new[:1] = True
    np.not_equal(keys[1:], keys[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    counts = np.diff(np.append(starts, len(keys)))
    r, c = np.divmod(keys[starts], width)
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(r, minlength=n_rows), out=indptr[1:])
    return sp.csr_matrix((counts.astype(np.float32), c.astype(np.int32), indptr), shape=(n_rows, n_cols))


class Symbols:
    """Ids for a chunk's symbols (stems), in order of first sight; `ranks` sorts them."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def id(self, s: str) -> int:
        i = self.ids.get(s)
        if i is None:
            i = self.ids[s] = len(self.ids)
        return i

    def sorted(self) -> tuple[list[str], np.ndarray]:
        """(the symbols in sorted order, 1-based rank of each id)."""
        names = list(self.ids)
        order = sorted(range(len(names)), key=names.__getitem__)
        rank = np.empty(len(names), dtype=np.int64)
        rank[order] = np.arange(1, len(names) + 1)
        return [names[i] for i in order], rank


def _word_runs(seqs: Sequence[Sequence[int]], rank: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(each token's digit, its sequence, tokens from it to its sequence's end)."""
    lens = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    flat = rank[np.fromiter((t for s in seqs for t in s), dtype=np.int64, count=int(lens.sum()))]
    seq = np.repeat(np.arange(len(seqs), dtype=np.int64), lens)
    left = np.repeat(np.cumsum(lens), lens) - np.arange(len(flat), dtype=np.int64)
    return flat, seq, left


def word_terms(
    seqs: Sequence[Sequence[int]], n_max: int, rank: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`terms_of` for every word n-gram (n = 1 .. ``n_max``) of each sequence of symbol ids, as
    scikit-learn's ``_word_ngrams`` forms them, with ``rank`` (1-based, per symbol id) as
    digits; rows are the sequences."""
    width, base = max(n_max, 1), len(rank) + 1
    flat, seq, left = _word_runs(seqs, rank)
    fast = rolling_terms(flat, left, seq, range(1, width + 1), width, base)
    if fast is not None:
        return fast
    out: Columns = []
    for n in range(1, width + 1):
        at = np.flatnonzero(left >= n)
        out.append((seq[at], [flat[at + j] for j in range(n)]))
    return terms_of(out, width, base)


def word_counts(seqs: Sequence[Sequence[int]], n_max: int, rank: np.ndarray) -> tuple[np.ndarray, sp.csr_matrix]:
    """(the terms of `word_terms`, how often each sequence has each: `count_matrix`)."""
    width, base = max(n_max, 1), len(rank) + 1
    flat, seq, left = _word_runs(seqs, rank)
    found = rolling_keys(flat, left, seq, range(1, width + 1), width, base)
    counted = None if found is None else keyed_counts(*found, base**width, len(seqs))
    if counted is not None:
        return _digits(counted[0], width, base), counted[1]
    rows, terms, col = word_terms(seqs, n_max, rank)
    return terms, count_matrix(rows, col, len(seqs), len(terms))


def _char_runs(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The texts' words, padded with a space each side, end to end: (each character's 1-based
    rank among the sorted code points, those code points, each word's size, start and text)."""
    parts = [t.split() for t in texts]
    joined = [f" {w} " for p in parts for w in p]
    sizes = np.fromiter(map(len, joined), dtype=np.int64, count=len(joined))
    words_per = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    codes = np.frombuffer("".join(joined).encode("utf-32-le"), dtype="<u4")
    alphabet, ranks = _unique_inverse(codes.astype(np.int64), 0x110000)
    ranks += 1
    start = np.cumsum(sizes) - sizes
    owner = np.repeat(np.arange(len(parts), dtype=np.int64), words_per)
    return ranks, alphabet, sizes, start, owner


def char_terms(texts: Sequence[str], n_min: int, n_max: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`terms_of` for every character n-gram of each text as `suggest.build.char_grams` forms
    them (words padded with a space each side; n from ``n_min`` to ``n_max``; a padded word of
    at most ``n_max`` characters also gives itself once, a shorter one only itself), with each
    character's 1-based rank among the sorted code points as digits; and those code points."""
    width = max(n_max, 1)
    ranks, alphabet, sizes, start, owner = _char_runs(texts)
    base = len(alphabet) + 1
    if not len(sizes) or sizes.min() >= n_min:  # every gram is a window inside its padded word
        left = np.repeat(start + sizes, sizes) - np.arange(len(ranks), dtype=np.int64)
        fast = rolling_terms(ranks, left, np.repeat(owner, sizes), range(n_min, n_max + 1), width, base)
        if fast is not None:
            return (*fast, alphabet)
    out: Columns = []

    def take(word: np.ndarray, n: int, windows: np.ndarray) -> None:
        # ``windows`` grams of n characters from each word in ``word``, from its start on.
        ends = np.cumsum(windows)
        at = np.repeat(start[word] - (ends - windows), windows) + np.arange(int(ends[-1]) if len(ends) else 0)
        out.append((np.repeat(owner[word], windows), [ranks[at + j] for j in range(n)]))

    for n in range(n_min, n_max + 1):
        longer = np.flatnonzero(sizes > n)
        take(longer, n, sizes[longer] - n + 1)
    whole = np.flatnonzero(sizes <= n_max)  # a word that fits one gram gives itself
    for size in np.unique(sizes[whole]).tolist():
        w = whole[sizes[whole] == size]
        take(w, size, np.ones(len(w), dtype=np.int64))
    return (*terms_of(out, width, base), alphabet)


def char_counts(texts: Sequence[str], n_min: int, n_max: int) -> tuple[np.ndarray, sp.csr_matrix, np.ndarray]:
    """(the terms of `char_terms`, how often each text has each: `count_matrix`, the code points)."""
    width = max(n_max, 1)
    ranks, alphabet, sizes, start, owner = _char_runs(texts)
    base = len(alphabet) + 1
    if not len(sizes) or sizes.min() >= n_min:
        left = np.repeat(start + sizes, sizes) - np.arange(len(ranks), dtype=np.int64)
        found = rolling_keys(ranks, left, np.repeat(owner, sizes), range(n_min, n_max + 1), width, base)
        counted = None if found is None else keyed_counts(*found, base**width, len(texts))
        if counted is not None:
            return _digits(counted[0], width, base), counted[1], alphabet
    rows, grams, col, alphabet = char_terms(texts, n_min, n_max)
    return grams, count_matrix(rows, col, len(texts), len(grams)), alphabet


def spell(digits: np.ndarray, symbols: Sequence[str], sep: str) -> list[str]:
    """Each row of digits as its string: its symbols (1-based) joined by ``sep``."""
    names = ["", *symbols]
    cols = [digits[:, j].tolist() for j in range(digits.shape[1])]
    if len(cols) == 1:
        return [names[a] for a in cols[0]]
    if len(cols) == 2 and sep:
        return [names[a] + sep + names[b] if b else names[a] for a, b in zip(*cols, strict=True)]
    return [sep.join(names[d] for d in row if d) for row in zip(*cols, strict=True)]


def spell_table(digits: np.ndarray, symbols: Sequence[str], sep: str, block: int = 1 << 18) -> StringTable:
    """`spell` as a `StringTable`, with no Python string per term: each term's UTF-8 bytes are
    gathered from its symbols' (``sep`` before every symbol after the first), ``block`` terms
    at a time. Same bytes as encoding `spell`'s strings (tests/test_count.py)."""
    plain = StringTable.of(["", *symbols])
    joined = StringTable.of(["", *(sep + s for s in symbols)])
    source = np.concatenate([plain.blob, joined.blob])
    lens = np.diff(plain.offsets), np.diff(joined.offsets)
    starts = plain.offsets[:-1], joined.offsets[:-1] + len(plain.blob)
    n, width = digits.shape
    sizes = np.zeros(n, dtype=np.int64)
    parts = []
    for lo in range(0, n, block):
        d = digits[lo : lo + block]
        size = np.stack([lens[j > 0][d[:, j]] for j in range(width)], axis=1)  # bytes of each piece
        start = np.stack([starts[j > 0][d[:, j]] for j in range(width)], axis=1)
        sizes[lo : lo + len(d)] = size.sum(axis=1)
        size, start = size.ravel(), start.ravel()
        total = int(size.sum())
        first = np.cumsum(size) - size  # where each piece goes in the block's bytes
        parts.append(source[np.repeat(start - first, size) + np.arange(total, dtype=np.int64)])
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    return StringTable(np.concatenate(parts) if parts else np.zeros(0, np.uint8), offsets)


class Merger:
    """The archive's vocabulary from its chunks': each chunk adds its sorted symbols, its terms
    (digits over those symbols) and their document frequencies; `finish` gives the archive's
    symbols, its sorted distinct terms with summed frequencies, and each chunk's term ids.

    A chunk's terms are kept packed over its own symbols (one int64 a term where they fit) and
    its symbols as the archive-wide string of each, so that holding every chunk costs little
    more than its keys: at a million checks that is the build's largest structure."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray, int, np.ndarray]] = []
        self.symbols: dict = {}  # each symbol once, as the one object every chunk refers to

    def add(self, symbols: Sequence, digits: np.ndarray, df: np.ndarray) -> None:
        same = self.symbols.setdefault
        syms = np.asarray([same(s, s) for s in symbols], dtype=object)
        base, width = len(syms) + 1, digits.shape[1]
        keys = _pack(digits, base) if _packable(base, width) else digits
        self.parts.append((syms, keys, width, df))

    def finish(self) -> tuple[list, np.ndarray, np.ndarray, list[np.ndarray]]:
        symbols = sorted(self.symbols)
        self.symbols = {}
        where = {s: i + 1 for i, s in enumerate(symbols)}
        width = max((w for _, _, w, _ in self.parts), default=1)
        base = len(symbols) + 1
        remapped = []
        while self.parts:  # each part's digits in the archive's symbols (and then let go)
            syms, keys, own_width, df = self.parts.pop(0)
            digits = _digits(keys, own_width, len(syms) + 1) if keys.ndim == 1 else keys
            to = np.zeros(len(syms) + 1, dtype=np.int64)
            to[1:] = np.fromiter((where[s] for s in syms), dtype=np.int64, count=len(syms))
            d = np.zeros((len(digits), width), dtype=np.int64)
            d[:, :own_width] = to[digits]
            remapped.append([_pack(d, base) if _packable(base, width) else d, df])
        if remapped and remapped[0][0].ndim == 1:  # one int64 per term: a sort, then lookups
            every = np.concatenate([k for k, _ in remapped])
            terms = sorted_unique(every, in_place=True)  # no second copy of every chunk's keys
            del every
            ids = []
            for part in remapped:  # each part's keys let go once looked up
                ids.append(np.searchsorted(terms, part[0]))
                part[0] = np.zeros(0, dtype=np.int64)
            digits = _digits(terms, width, base)
        else:
            allrows = np.concatenate([d for d, _ in remapped]) if remapped else np.zeros((0, width), dtype=np.int64)
            digits, inverse = unique_rows(allrows, base)
            bounds = np.cumsum([0, *(len(d) for d, _ in remapped)])
            ids = [inverse[bounds[k] : bounds[k + 1]] for k in range(len(remapped))]
        df = np.zeros(len(digits), dtype=np.int64)
        for (_, part_df), part_ids in zip(remapped, ids, strict=True):
            df[part_ids] += part_df  # a chunk's terms are distinct: no id twice (np.add.at is slow)
        return symbols, digits, df, ids
