"""The peer of `suggest batch`: bm25s retrieving the top 5 other checks for every check.

    python bench/peer_bm25s_batch.py ARCHIVE.jsonl INDEX_DIR OUT.jsonl [--threads N]

INDEX_DIR is the saved bm25s index of the same archive (`peer_bm25s_query.py build`). Each
check's own indexed text (title, claim, article, as the index holds it) is the query; bm25s
retrieves six and the check itself is dropped, leaving five. Writes one JSON line per check
(sorted by id) and prints the time of each phase as JSON on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peer_bm25s_query import doc_text  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("archive")
    ap.add_argument("index")
    ap.add_argument("out")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()

    t0 = time.perf_counter()
    import bm25s
    import Stemmer

    retriever = bm25s.BM25.load(args.index, load_corpus=True, mmap=True, show_progress=False)
    t_load = time.perf_counter()
    ids, texts = [], []
    with open(args.archive, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                c = json.loads(line)
                ids.append(c["id"])
                texts.append(doc_text(c))
    t_read = time.perf_counter()
    tokens = bm25s.tokenize(texts, stopwords="en", stemmer=Stemmer.Stemmer("english"),
                            return_ids=False, show_progress=False)
    t_tok = time.perf_counter()
    docs, _scores = retriever.retrieve(tokens, k=6, n_threads=args.threads, show_progress=False)
    t_ret = time.perf_counter()
    rows = []
    for cid, found in zip(ids, docs, strict=True):
        rows.append((cid, [d["id"] for d in found if d["id"] != cid][:5]))
    rows.sort()
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for cid, top in rows:
            f.write(json.dumps({"id": cid, "top5": top}) + "\n")
    os.replace(tmp, args.out)
    t_end = time.perf_counter()
    print(json.dumps({"checks": len(ids), "threads": args.threads, "load_s": t_load - t0,
                      "read_s": t_read - t_load, "tokenize_s": t_tok - t_read,
                      "retrieve_s": t_ret - t_tok, "write_s": t_end - t_ret}), file=sys.stderr)


if __name__ == "__main__":
    main()
