"""The judged collection: what an editor reads, measured.

New draft articles (not in the archive) were each judged by hand against every question and
title of an archive: grade 2 (a reader of the draft would want it next), 1 (related, useful
context), 0; plus the items that merely restate the draft's own title or questions. Layout
of a collection folder (``tests/data/judged/`` is the one for ``corpus/``; docs/evaluation.md
says how it was made)::

    items.jsonl            every archive item: {"key": "<check id>#title" or "#q<n>", "check",
                           "text", ...}
    drafts/NAME.txt        the drafts, saved articles
    judgments/NAME.json    {"kind": "covered" | "follow-up" | "uncovered", "follows",
                           "grades": {key: 1 or 2}, "restates": [key, ...], ...}
    split.json             {"train": [NAME, ...], "test": [NAME, ...]}

`evaluate_judged` runs `suggest` as shipped on every draft. A listed pool item stands for all
its members (the questions and titles merged into it): its grade is their best grade, and it
restates the draft when any of them does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from suggest.errors import SuggestError
from suggest.index import Index
from suggest.rank import suggest
from suggest.readers import decode, parse_article
from suggest.records import RankOptions

KINDS = ("covered", "follow-up", "uncovered")
SPLITS = ("train", "test", "all")
FIGURES = ("drafts", "precision", "ndcg@5", "fill", "restatements", "junk per uncovered", "empty lists")


@dataclass(frozen=True)
class Judgment:
    """One draft and its judgments."""

    name: str
    path: Path
    kind: str
    grades: dict[str, int]
    restates: frozenset[str]


@dataclass(frozen=True)
class Collection:
    """A judged collection: the archive's items by key, the judged drafts, the split."""

    folder: Path
    items: dict[str, tuple[str, str]]  # key -> (check id, text)
    drafts: tuple[Judgment, ...]
    split: dict[str, str]  # draft name -> "train" or "test"


def _json(path: Path) -> object:
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise SuggestError(f"{path}: missing; a judged collection needs it (see docs/evaluation.md)") from None
    except (OSError, ValueError) as exc:
        raise SuggestError(f"{path}: not readable JSON ({exc}); fix or restore the file") from None


def load_collection(folder: str | Path) -> Collection:
    """Read and check a judged collection (see the module notes).

    Raises `SuggestError` naming the file and the fix: a missing or unreadable file, a key
    that is no archive item, a grade other than 1 or 2, an unknown kind, a draft in no split.
    """
    folder = Path(folder)
    items: dict[str, tuple[str, str]] = {}
    items_path = folder / "items.jsonl"
    try:
        lines = items_path.read_text("utf-8").splitlines()
    except OSError as exc:
        raise SuggestError(
            f"{items_path}: cannot read ({exc.strerror or exc}); is {folder} a judged collection?"
        ) from None
    for no, line in enumerate(lines, 1):
        try:
            rec = json.loads(line)
            items[rec["key"]] = (rec["check"], rec["text"])
        except (ValueError, KeyError, TypeError):
            raise SuggestError(f"{items_path}:{no}: not an item {{key, check, text}}; fix the line") from None
    split_doc = _json(folder / "split.json")
    split = {n: s for s in ("train", "test") for n in (split_doc.get(s, []) if isinstance(split_doc, dict) else [])}
    drafts = [_judgment(folder, p, items, split) for p in sorted((folder / "judgments").glob("*.json"))]
    if not drafts:
        raise SuggestError(f"{folder / 'judgments'}: no judgments; is {folder} a judged collection?")
    return Collection(folder, items, tuple(drafts), split)


def _judgment(folder: Path, path: Path, items: dict, split: dict[str, str]) -> Judgment:
    doc = _json(path)
    if not isinstance(doc, dict) or doc.get("kind") not in KINDS:
        raise SuggestError(f'{path}: "kind" must be one of {", ".join(KINDS)}; fix the judgment')
    grades = doc.get("grades") or {}
    restates = doc.get("restates") or []
    for key in [*grades, *restates]:
        if key not in items:
            raise SuggestError(f"{path}: {key!r} is not an item of items.jsonl; fix the key")
    if any(g not in (1, 2) for g in grades.values()):
        raise SuggestError(f"{path}: grades must be 1 or 2 (0 is not listed); fix the judgment")
    draft = folder / "drafts" / f"{path.stem}.txt"
    if not draft.is_file():
        raise SuggestError(f"{path}: its draft {draft} is missing; add it or remove the judgment")
    if path.stem not in split:
        raise SuggestError(f"{path}: the draft is in no split of split.json; add it to train or test")
    return Judgment(path.stem, draft, doc["kind"], dict(grades), frozenset(restates))


def member_keys(index: Index, collection: Collection) -> list[frozenset[str]]:
    """For each pool item of ``index``: the collection keys of its members (the questions of
    the checks that raised it whose text is one of its wordings, the titles of the checks
    that answer it)."""
    by_text: dict[tuple[str, str], str] = {(c, t): k for k, (c, t) in collection.items.items() if "#q" in k}
    out = []
    for rec in index.pool_records:
        keys = {f"{c}#title" for c in rec["answered_by"]}
        for c in rec["raised_by"]:
            keys.update(k for t in rec.get("variants", [rec["text"]]) if (k := by_text.get((c, t))))
        out.append(frozenset(keys))
    return out


@dataclass
class DraftResult:
    """What `suggest` listed for one draft, judged: each listed item's grade and whether it
    restates the draft; the grades of every pool item (for the ideal list)."""

    name: str
    kind: str
    split: str
    listed: list[int]
    grades: list[int]
    restates: list[bool]
    pool_grades: dict[int, int] = field(default_factory=dict)  # pool item -> grade, graded ones only


def judge(index: Index, collection: Collection, opts: RankOptions | None = None) -> list[DraftResult]:
    """Run `suggest` on every draft of ``collection`` against ``index`` (which must be the index
    of the archive the collection judges) and judge its lists."""
    members = member_keys(index, collection)
    out = []
    for j in collection.drafts:
        text, _ = decode(j.path.read_bytes(), str(j.path))
        ranked = suggest(index, parse_article(text, j.path), opts or RankOptions())
        pool = {}
        restating = set()
        for item, keys in enumerate(members):
            g = max((j.grades.get(k, 0) for k in keys), default=0)
            if keys & j.restates:
                restating.add(item)
            elif g:
                pool[item] = g
        listed = [s.item for s in ranked]
        out.append(
            DraftResult(
                j.name,
                j.kind,
                collection.split[j.name],
                listed,
                [pool.get(i, 0) for i in listed],
                [i in restating for i in listed],
                pool,
            )
        )
    return out


def figures(results: Sequence[DraftResult], top: int = 5) -> dict[str, float]:
    """The collection's figures over ``results``.

    - ``precision``: share of the items listed for covered drafts (covered and follow-up) that
      are relevant (grade 1 or 2), over all their lists together;
    - ``ndcg@5``: mean nDCG@5 of those lists with the grades as gains (ranx), a draft's ideal
      list being its best-graded pool items;
    - ``fill``: mean over covered drafts of items listed / min(``top``, relevant pool items);
    - ``restatements``: listed items that restate their draft, all drafts;
    - ``junk per uncovered``: mean number of items listed for a draft the archive does not cover;
    - ``empty lists``: covered drafts that got no item.
    """
    from ranx import Qrels, Run, evaluate

    covered = [r for r in results if r.kind != "uncovered"]
    uncovered = [r for r in results if r.kind == "uncovered"]
    listed = sum(len(r.listed) for r in covered)
    relevant = sum(1 for r in covered for g in r.grades if g)
    ndcg = 0.0
    judged = [r for r in covered if r.pool_grades]
    if judged:
        qrels = Qrels({r.name: {str(i): g for i, g in r.pool_grades.items()} for r in judged})
        run = Run({r.name: {str(i): float(len(r.listed) - k) for k, i in enumerate(r.listed)} for r in judged})
        ndcg = float(evaluate(qrels, run, f"ndcg@{top}", make_comparable=True))
    fills = [min(len(r.listed), m) / m for r in covered if (m := min(top, len(r.pool_grades)))]
    return {
        "drafts": float(len(results)),
        "precision": round(relevant / listed, 4) if listed else 0.0,
        "ndcg@5": round(ndcg, 4),
        "fill": round(sum(fills) / len(fills), 4) if fills else 0.0,
        "restatements": float(sum(sum(r.restates) for r in results)),
        "junk per uncovered": round(sum(len(r.listed) for r in uncovered) / len(uncovered), 4) if uncovered else 0.0,
        "empty lists": float(sum(1 for r in covered if not r.listed)),
    }


def evaluate_judged(
    index: Index, collection: Collection, opts: RankOptions | None = None, top: int | None = None
) -> dict[str, dict[str, float]]:
    """Figures (see `figures`) for the train half, the test (held-out) half and all drafts."""
    results = judge(index, collection, opts)
    k = top or (opts or RankOptions()).top
    return {
        "train": figures([r for r in results if r.split == "train"], k),
        "test": figures([r for r in results if r.split == "test"], k),
        "all": figures(results, k),
    }


def judged_table(result: dict[str, dict[str, float]]) -> str:
    """The figures as a plain table, one row per figure, a column per split."""
    lines = [f"{'figure':20s}" + "".join(f"{s:>10s}" for s in SPLITS)]
    for name in FIGURES:
        cells = []
        for s in SPLITS:
            v = result[s][name]
            cells.append(f"{int(v):>10d}" if name in ("drafts", "restatements", "empty lists") else f"{v:>10.4f}")
        lines.append(f"{name:20s}" + "".join(cells))
    return "\n".join(lines) + "\n"
