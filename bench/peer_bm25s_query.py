"""The peer of `suggest for`: bm25s retrieving the top 5 checks for one article.

    python bench/peer_bm25s_query.py build ARCHIVE.jsonl INDEX_DIR   # once, untimed
    python bench/peer_bm25s_query.py query INDEX_DIR ARTICLE.txt     # what the benchmark times

The index holds the same texts ours does (title, claim, article text of each check), tokenised
by bm25s with its English stop words and the PyStemmer English (Snowball) stemmer, and saved
with bm25s' own save/load. The saved corpus is each check's id and claim, so a query prints the
five claims (our questions) it retrieves, as `suggest for` prints five questions.
"""

from __future__ import annotations

import sys


def doc_text(check: dict) -> str:
    """What both indexes see of a check: title, summary (the claim), section texts, questions."""
    parts = [check.get("title") or "", check.get("summary") or ""]
    parts += [s.get("text") or "" for s in check.get("sections") or []]
    parts += list(check.get("questions") or [])
    return "\n".join(p for p in parts if p)


def build(archive: str, index_dir: str) -> None:
    import json

    import bm25s
    import Stemmer

    checks = []
    with open(archive, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                checks.append(json.loads(line))
    stemmer = Stemmer.Stemmer("english")
    tokens = bm25s.tokenize([doc_text(c) for c in checks], stopwords="en", stemmer=stemmer, show_progress=False)
    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)
    corpus = [{"id": c["id"], "text": (c.get("questions") or [c["title"]])[0]} for c in checks]
    retriever.save(index_dir, corpus=corpus, show_progress=False)


def query(index_dir: str, article: str, k: int = 5) -> None:
    import bm25s
    import Stemmer

    with open(article, encoding="utf-8") as f:
        text = f.read()
    retriever = bm25s.BM25.load(index_dir, load_corpus=True, mmap=True, show_progress=False)
    tokens = bm25s.tokenize([text], stopwords="en", stemmer=Stemmer.Stemmer("english"),
                            return_ids=False, show_progress=False)
    docs, scores = retriever.retrieve(tokens, k=k, show_progress=False)
    print("Want to dive deeper?")
    for doc, score in zip(docs[0], scores[0], strict=True):
        print(f"{doc['text']}\t{doc['id']}\t{score:.3f}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "build":
        build(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "query":
        query(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
