"""Term counting with arrays (suggest/count.py): the same terms, in string order, with the
same counts as counting strings one by one."""

from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from suggest import count
from suggest.build import char_grams
from suggest.text import ngrams

WORD = st.text(alphabet="abcé_9", min_size=1, max_size=4)
TEXT = st.text(alphabet=st.sampled_from("ab cé\u4e00\U0001f600\t\n"), max_size=30)


def by_strings(rows: np.ndarray, digits: np.ndarray, inverse: np.ndarray, names: list[str], sep: str) -> Counter:
    spelled = count.spell(digits, names, sep)
    assert spelled == sorted(spelled) and len(set(spelled)) == len(spelled)  # string order, distinct
    return Counter((int(r), spelled[t]) for r, t in zip(rows, inverse, strict=True))


@given(st.lists(st.lists(WORD, max_size=8), max_size=6), st.integers(1, 3), st.booleans())
@settings(max_examples=150, deadline=None)
def test_word_terms_count_what_ngrams_forms(seqs, n_max, packed):
    symbols = count.Symbols()
    ids = [[symbols.id(w) for w in s] for s in seqs]
    names, rank = symbols.sorted()
    original = count._packable
    try:
        if not packed:  # the fallback for keys too large for an int64
            count._packable = lambda base, width: False  # type: ignore[assignment]
        rows, digits, inverse = count.word_terms(ids, n_max, rank)
    finally:
        count._packable = original  # type: ignore[assignment]
    want = Counter((i, g) for i, s in enumerate(seqs) for g in ngrams(list(s), n_max))
    assert by_strings(rows, digits, inverse, names, " ") == want


@given(st.lists(TEXT, max_size=6), st.integers(1, 3), st.integers(0, 3), st.booleans())
@settings(max_examples=150, deadline=None)
def test_char_terms_count_what_char_grams_forms(texts, n_min, extra, packed):
    n_max = n_min + extra
    original = count._packable
    try:
        if not packed:
            count._packable = lambda base, width: False  # type: ignore[assignment]
        rows, digits, inverse, alphabet = count.char_terms(texts, n_min, n_max)
    finally:
        count._packable = original  # type: ignore[assignment]
    want = Counter((i, g) for i, t in enumerate(texts) for g in char_grams(t, n_min, n_max))
    assert by_strings(rows, digits, inverse, [chr(c) for c in alphabet], "") == want


def test_unique_inverse_and_count_matrix_agree_with_numpy_and_scipy():
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    for n in (0, 1, 7, 5000):
        keys = rng.integers(0, 300, n).astype(np.int64)
        uniq, inverse = count._unique_inverse(keys, 300)
        want_u, want_i = np.unique(keys, return_inverse=True)
        np.testing.assert_array_equal(uniq, want_u)
        np.testing.assert_array_equal(inverse, want_i.ravel())
        r, c = rng.integers(0, 9, n), rng.integers(0, 11, n)
        m = count.count_matrix(r, c, 9, 11)
        want = sp.csr_matrix((np.ones(n), (r, c)), shape=(9, 11))
        want.sum_duplicates()
        assert m.has_canonical_format and (m != want).nnz == 0


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6), max_size=30))
@settings(max_examples=150, deadline=None)
def test_saved_strings_read_back_whatever_their_characters(tmp_path_factory, items):
    """`store.write_strings` sizes each string in UTF-8 from its characters (1 to 4 bytes)."""
    from suggest import store

    folder = tmp_path_factory.mktemp("strings")
    store.write_strings(folder, "t", items)
    assert list(store.Strings(folder, "t")) == items


@given(
    st.lists(st.text(alphabet="ab\u00e9\u4e00\U0001f600_", min_size=1, max_size=4), min_size=1, max_size=8, unique=True),
    st.integers(1, 3),
    st.sampled_from([" ", ""]),
    st.integers(1, 5),
    st.data(),
)
@settings(max_examples=150, deadline=None)
def test_spell_table_has_the_bytes_of_spelled_strings(symbols, width, sep, block, data):
    """`count.spell_table` gathers each term's UTF-8 bytes from its symbols': the same table as
    encoding `count.spell`'s strings, whatever the block of terms it works in."""
    from suggest import store

    n = data.draw(st.integers(0, 12))
    first = np.array(data.draw(st.lists(st.integers(1, len(symbols)), min_size=n, max_size=n)), dtype=np.int64)
    rest = np.array(
        data.draw(st.lists(st.integers(0, len(symbols)), min_size=n * (width - 1), max_size=n * (width - 1))),
        dtype=np.int64,
    ).reshape(n, width - 1)
    for j in range(1, width - 1):  # padding: once a digit is 0, the rest of the row is too
        rest[rest[:, j - 1] == 0, j] = 0
    digits = np.concatenate([first.reshape(n, 1), rest], axis=1)
    table = count.spell_table(digits, symbols, sep, block=block)
    want = store.StringTable.of(count.spell(digits, symbols, sep))
    np.testing.assert_array_equal(table.offsets, want.offsets)
    np.testing.assert_array_equal(table.blob, want.blob)
    assert list(table) == count.spell(digits, symbols, sep)


def _same_matrix(a, b) -> None:  # type: ignore[no-untyped-def]
    assert a.shape == b.shape and a.dtype == b.dtype
    for part in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(a, part), getattr(b, part), err_msg=part)


@given(st.lists(st.lists(WORD, max_size=8), max_size=6), st.integers(1, 3), st.booleans())
@settings(max_examples=150, deadline=None)
def test_word_counts_are_the_count_matrix_of_word_terms(seqs, n_max, fits):
    """`count.word_counts` (one sort of packed (row, key) pairs) gives `word_terms`' terms and
    `count_matrix`'s counts, also when the pairs do not fit an int64 (its other path)."""
    symbols = count.Symbols()
    ids = [[symbols.id(w) for w in s] for s in seqs]
    _names, rank = symbols.sorted()
    rows, terms, col = count.word_terms(ids, n_max, rank)
    original = count.keyed_counts
    try:
        if not fits:
            count.keyed_counts = lambda *a: None  # type: ignore[assignment]
        got_terms, got = count.word_counts(ids, n_max, rank)
    finally:
        count.keyed_counts = original  # type: ignore[assignment]
    np.testing.assert_array_equal(got_terms, terms)
    _same_matrix(got, count.count_matrix(rows, col, len(ids), len(terms)))


@given(st.lists(TEXT, max_size=6), st.integers(1, 3), st.integers(0, 3), st.booleans())
@settings(max_examples=150, deadline=None)
def test_char_counts_are_the_count_matrix_of_char_terms(texts, n_min, extra, fits):
    n_max = n_min + extra
    rows, grams, col, alphabet = count.char_terms(texts, n_min, n_max)
    original = count.keyed_counts
    try:
        if not fits:
            count.keyed_counts = lambda *a: None  # type: ignore[assignment]
        got_grams, got, got_alphabet = count.char_counts(texts, n_min, n_max)
    finally:
        count.keyed_counts = original  # type: ignore[assignment]
    np.testing.assert_array_equal(got_grams, grams)
    np.testing.assert_array_equal(got_alphabet, alphabet)
    _same_matrix(got, count.count_matrix(rows, col, len(texts), len(grams)))


def test_keyed_counts_refuses_pairs_beyond_an_int64():
    assert count.keyed_counts(np.array([0, 1]), np.array([5, 5]), 1 << 62, 4) is None
    uniq, m = count.keyed_counts(np.array([1, 0, 1]), np.array([9, 5, 9]), 1 << 40, 3)
    np.testing.assert_array_equal(uniq, [5, 9])
    assert m.toarray().tolist() == [[1, 0], [0, 2], [0, 0]]
