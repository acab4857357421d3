"""Generate suggest/data/stems.tsv.gz: nltk Snowball stems of common English words.

The query path stems an article's words through the index's own table; words the archive never
contained would need nltk, whose import alone takes over a second. This lexicon covers them.
Words come from real public text: the CheckThat! 2021 fact-checks and queries in ../shared.

Usage: python scripts/make_stem_lexicon.py [--min-count 3]
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections import Counter
from pathlib import Path

from nltk.stem.snowball import SnowballStemmer

from suggest.text import words

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "checkthat"


def texts():
    with (DATA / "2021-2a-en" / "vclaims.jsonl").open(encoding="utf-8") as f:
        for line in f:
            o = json.loads(line)
            yield " ".join(str(o.get(k) or "") for k in ("vclaim", "title", "subtitle"))
    with gzip.open(DATA / "2021-2b-en" / "politifact_vclaims.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            o = json.loads(line)
            yield " ".join(str(o.get(k) or "") for k in ("vclaim", "title", "text"))
    for split in sorted(DATA.glob("*/*.queries.tsv")):
        for line in split.read_text("utf-8").splitlines()[1:]:
            yield line.split("\t", 1)[-1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--min-count", type=int, default=3)
    args = ap.parse_args()
    counts: Counter[str] = Counter()
    for t in texts():
        counts.update(w for w in words(t) if w.isalpha() and len(w) <= 24)
    stem = SnowballStemmer("english").stem
    kept = sorted(w for w, n in counts.items() if n >= args.min_count)
    out = ROOT / "suggest" / "data" / "stems.tsv.gz"
    # mtime=0: the same input gives a byte-identical file.
    with gzip.GzipFile(out, "wb", mtime=0) as f:
        f.write("".join(f"{w}\t{stem(w)}\n" for w in kept).encode("utf-8"))
    print(f"{len(kept)} words -> {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
