"""Time and traced peak memory of the term-major postings of a saved index's matrix, made a
block of rows at a time (`champion_postings`) and from the whole matrix at once.

    python bench/champion_memory.py INDEX_DIR checks|chars

Both must equal the postings saved with the index (printed). Run it twice in a row: the first
run also pays for reading the memory-mapped matrix from disk.
"""

from __future__ import annotations

import sys
import time
import tracemalloc

import numpy as np

from suggest.build import _cut, _transpose
from suggest.index import Index, champion_postings


def main() -> None:
    ix = Index.load(sys.argv[1], verify=False)
    name = sys.argv[2]
    m = {"checks": ix.checks_matrix, "chars": ix.char_matrix}[name]
    saved = ix.search(name)
    print(f"{name}: {m.nnz} entries, {saved.nnz} kept in the saved postings", flush=True)
    keep = ix.config.postings_max
    for label, make in (("blocks", lambda: champion_postings(m, keep)), ("whole", lambda: _cut(_transpose(m), keep))):
        tracemalloc.start()
        t = time.perf_counter()
        got = make()
        seconds = time.perf_counter() - t
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        same = all(np.array_equal(getattr(got, a), getattr(saved, a)) for a in ("indptr", "indices", "data"))
        print(f"{label}: {seconds:.1f} s, peak traced {peak / 1e9:.2f} GB, equal to saved: {same}", flush=True)
        del got


if __name__ == "__main__":
    main()
