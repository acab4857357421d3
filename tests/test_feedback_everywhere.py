"""The editors' feedback outside the editor's page: removed questions leave the candidates
before selection (a list equals the ranking of a pool without them), `suggest batch` honours
blocks, rejections and pins, `suggest backlog` shows how often a question was accepted."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import corpus_copy
from typer.testing import CliRunner

from suggest.archive import read_archive
from suggest.batch import RESULTS, run_batch
from suggest.cli import app
from suggest.index import default_index_dir, open_index
from suggest.rank import explain
from suggest.readers import parse_article
from suggest.serve.feedback import ArticleFeedback, FeedbackStore, article_key, question_key, store_path
from suggest.serve.lists import article_list, list_feedback, rank_options

ROOT = Path(__file__).resolve().parents[1]
DRAFT = ROOT / "examples" / "draft-mail-ballots.txt"


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return corpus_copy(tmp_path_factory, "feedback")


@pytest.fixture(scope="module")
def index(archive):
    ix, _ = open_index(archive)
    return ix


def store_of(archive: Path) -> FeedbackStore:
    return FeedbackStore(store_path(default_index_dir(archive)))


def without(index, item: int):
    """The index with pool item ``item`` never suggestable: a ranking that never sees it."""
    askable = np.asarray(index.askable, dtype=bool).copy()
    askable[item] = False
    return dataclasses.replace(index, askable=askable)


def listed(got) -> list[tuple[str, float]]:
    return [(s.question, s.score) for s in got.listed]


# -- removed before selection ------------------------------------------------------------------


@pytest.mark.parametrize("how", ["blocked", "rejected"])
def test_a_list_with_feedback_is_the_ranking_of_a_pool_without_the_question(index, how):
    draft = parse_article(DRAFT.read_text("utf-8"), str(DRAFT))
    opts = rank_options(top=5)
    base = explain(index, draft, opts, words=False)
    assert len(base.listed) == 5
    differs = 0
    for s in base.listed:
        said = ArticleFeedback(**{how: frozenset({question_key(s.question)})})
        got = article_list(index, draft, opts, said).result
        oracle = explain(without(index, s.item), draft, opts, words=False)
        assert listed(got) == listed(oracle), s.question
        assert s.question not in [x.question for x in got.listed]
        reason = "blocked by an editor" if how == "blocked" else "rejected for this article by an editor"
        assert (s.question, reason) in [(h.question, why) for h, why in got.held]
        # Ranking one more and dropping the question afterwards (the old way) gives another list
        # for some questions: the removed one took a per-source place or a diversity penalty.
        longer = explain(index, draft, dataclasses.replace(opts, top=6), words=False)
        dropped = [(x.question, x.score) for x in longer.listed if x.item != s.item][:5]
        differs += dropped != listed(oracle)
    assert differs >= 1


def test_pinned_questions_come_first_and_the_ranking_fills_the_rest(index):
    draft = parse_article(DRAFT.read_text("utf-8"), str(DRAFT))
    opts = rank_options(top=3)
    pin = "Does measles-induced immune amnesia raise childhood deaths from other infections?"
    rec = [i for i, r in enumerate(index.pool_records) if question_key(r["text"]) == question_key(pin)]
    assert len(rec) == 1
    got = article_list(index, draft, opts, ArticleFeedback(pinned=(pin,))).result
    oracle = explain(without(index, rec[0]), draft, opts, words=False)
    assert [s.question for s in got.listed] == [pin, *[s.question for s in oracle.listed[:2]]]
    assert 0 < got.listed[0].score < 0.12  # scored as the draft scores it, listed whatever the floor
    assert (oracle.listed[2].question, "the list was full") in [(h.question, why) for h, why in got.held]


# -- suggest batch -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plain(archive, index, tmp_path_factory) -> dict[str, list[str]]:
    """Every check's list without feedback (question texts, by check id)."""
    out = tmp_path_factory.mktemp("plain") / "out"
    run_batch(index, out, "json", chunk=9, jobs=1)
    lines = [json.loads(x) for x in (out / RESULTS).read_text("utf-8").splitlines()]
    return {x["id"]: [s["question"] for s in x["suggestions"]] for x in lines}


def most_listed(plain: dict[str, list[str]]) -> str:
    counts: dict[str, int] = {}
    for qs in plain.values():
        for q in qs:
            counts[q] = counts.get(q, 0) + 1
    return sorted(counts, key=lambda q: (-counts[q], q))[0]


def test_batch_honours_blocks_rejections_and_pins_as_suggest_for_does(archive, index, plain, tmp_path):
    store = FeedbackStore(tmp_path / "feedback.sqlite")
    blocked = most_listed(plain)
    assert sum(blocked in qs for qs in plain.values()) >= 3
    store.block(blocked)
    checks = {c.id: c for c in read_archive(archive).checks}
    # Reject, for one check, a question two checks list: the other keeps it.
    counts: dict[str, list[str]] = {}
    for cid, qs in sorted(plain.items()):
        for q in qs:
            if q != blocked:
                counts.setdefault(q, []).append(cid)
    rejected, (victim, other) = next((q, cids[:2]) for q, cids in counts.items() if len(cids) >= 2)
    store.set_verdict(article_key(checks[victim]), rejected, "rejected")
    pin = "Does measles-induced immune amnesia raise childhood deaths from other infections?"
    store.pin("politics", pin)
    said = list_feedback(index, store, lambda: [(c.id, article_key(c)) for c in checks.values()])
    assert said.rejected and said.blocked and said.pinned == {"politics": said.pinned["politics"]}
    out = tmp_path / "out"
    run_batch(index, out, "json", chunk=9, jobs=1, feedback=said)
    lines = {x["id"]: x for x in map(json.loads, (out / RESULTS).read_text("utf-8").splitlines())}
    got = {cid: [s["question"] for s in x["suggestions"]] for cid, x in lines.items()}
    assert not any(blocked in qs for qs in got.values())
    assert rejected not in got[victim] and rejected in got[other]
    politics = [c for c in checks.values() if c.category == "politics"]
    assert politics and all(got[c.id][0] == pin for c in politics)
    assert not any(pin in got[c.id] for c in checks.values() if c.category != "politics")
    # Check by check, the list `suggest for` gives the same check with the same store.
    for c in checks.values():
        want = article_list(index, c, rank_options(), store.for_article(article_key(c), c.category))
        assert lines[c.id]["suggestions"] == [s.to_dict() for s in want.result.listed], c.id


def questions(out: Path) -> set[str]:
    """Every question a batch run in ``out`` listed."""
    lines = map(json.loads, (out / RESULTS).read_text("utf-8").splitlines())
    return {s["question"] for x in lines for s in x["suggestions"]}


def test_cli_batch_reads_the_store_unless_told_not_to(archive, plain, tmp_path):
    blocked = most_listed(plain)
    store = store_of(archive)
    store.block(blocked)
    try:
        for flag, present in (("--feedback", False), ("--no-feedback", True)):
            out = tmp_path / flag.strip("-")
            r = CliRunner().invoke(
                app, ["batch", "--archive", str(archive), "--out", str(out), "-f", "json", "-q", flag]
            )
            assert r.exit_code == 0, r.output
            assert (blocked in questions(out)) is present
        # Changed feedback is never answered from the chunks of the run before it.
        store.block(blocked, blocked=False)
        r = CliRunner().invoke(app, ["batch", "--archive", str(archive), "--out", str(tmp_path / "feedback"), "-q"])
        assert r.exit_code == 0 and blocked in questions(tmp_path / "feedback")
    finally:
        store.path.unlink(missing_ok=True)


# -- suggest backlog ---------------------------------------------------------------------------


def test_cli_backlog_shows_how_often_each_question_was_accepted(archive):
    first = CliRunner().invoke(app, ["backlog", "--archive", str(archive), "--top", "3", "-f", "json", "-q"])
    rows = json.loads(first.stdout)["rows"]
    assert "accepted" not in rows[0]  # no feedback yet: nothing to show
    question = rows[1]["question"]
    store = store_of(archive)
    try:
        for art in ("a1", "a2"):
            store.set_verdict(art, question, "accepted")
        store.set_verdict("a3", rows[0]["question"], "rejected")

        def run(*args: str) -> str:
            r = CliRunner().invoke(app, ["backlog", "--archive", str(archive), "--top", "3", "-q", *args])
            assert r.exit_code == 0, r.output
            return r.stdout

        assert [r["accepted"] for r in json.loads(run("-f", "json"))["rows"]] == [0, 2, 0]
        text = run()
        assert text.count("accepted 0 times;") == 2 and text.count("accepted 2 times;") == 1
        assert f"{question}\n    raised by " in text
        md = run("-f", "markdown").splitlines()
        assert "| # | Score | Question | Raised | Accepted | Recent | Central | Raised by |" in md
        assert any(line.startswith(f"| 2 | {rows[1]['score']:.3f} | ") and " | 2 | " in line for line in md)
        html = run("-f", "html")
        assert "<th>Accepted</th>" in html and "<td>2</td>" in html
        assert "accepted" not in run("--no-feedback")
    finally:
        store.path.unlink(missing_ok=True)
