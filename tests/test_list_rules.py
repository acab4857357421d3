"""The list rules an editor sees, each pinned by the case that showed it was missing (on the
shipped corpus; the judged collection measures them together: `suggest eval judged`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from suggest.archive import read_archive, read_file
from suggest.cli import app
from suggest.index import build_index
from suggest.rank import explain, suggest
from suggest.records import Check, RankOptions
from suggest.text import words

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
JUDGED = ROOT / "tests" / "data" / "judged" / "drafts"


@pytest.fixture(scope="module")
def index():
    return build_index(read_archive(CORPUS).checks)


def test_question_words_never_count_as_a_match():
    """A Bermuda Triangle draft got an airplane-mode question matched on "does, flight, risks":
    does, did and doing are stop words now, as do already was."""
    assert words("Does it rain? Did they? Doing so does harm. Do it.") == ["rain", "harm"]


def test_a_bermuda_triangle_draft_gets_no_question_matched_on_does(index):
    draft = Check(
        id="draft",
        title="Does the Bermuda Triangle make ships and planes disappear?",
        summary="Does the region see more losses than other busy waters? Insurers and coast guards say it does not.",
    )
    got = explain(index, draft, RankOptions(min_score=0))
    assert all("does" not in s.matched for s in got.listed + [h for h, _ in got.held])


def test_a_rewording_of_the_articles_own_question_is_left_out(index):
    """The Miranda check got "Does a case get dismissed when officers skip the Miranda warning?"
    (raised by the plea-bargain check): other words than its title, the same question. The
    article covers it: most of its words are the article's own (`restate_whole`)."""
    draft = read_file(CORPUS / "justice" / "miranda-rights-myths-ca0b63.txt")[0][0]  # `suggest for` on the file
    rewording = "Does a case get dismissed when officers skip the Miranda warning?"
    with_rule = explain(index, draft)
    assert rewording not in [s.question for s in with_rule.listed]
    assert (rewording, "the article covers it already") in [(s.question, why) for s, why in with_rule.held]
    without = suggest(index, draft, RankOptions(restate_whole=0))
    assert rewording in [s.question for s in without]  # the rule is what leaves it out


def test_bottled_water_near_misses_are_shown_with_their_scores(index):
    """For the bottled-water check, related questions (plastic in food, water and weight loss)
    score under the floor: they are not listed (the floor chosen on the judged drafts' train
    half keeps them out), but --explain shows each as a near miss with its score."""
    check = read_file(CORPUS / "environment" / "bottled-water-microplastics-a1b96e.txt")[0][0]
    got = explain(index, check)
    misses = {s.question: why for s, why in got.held if why.startswith("below the floor")}
    assert "Do chemicals migrate from plastic containers into food during microwave heating?" in misses
    assert all(s.score < got.floor for s, _ in got.held if s.question in misses)


def test_an_empty_result_is_said_not_printed(tmp_path):
    """An uncovered draft that clears no floor: no bare heading on stdout, exit code 3, the
    reason on stderr."""
    archive = tmp_path / "corpus"
    shutil.copytree(CORPUS, archive, ignore=shutil.ignore_patterns(".suggest-index*"))
    draft = tmp_path / "draft.txt"
    draft.write_text("Fact check: Do goldfish really have a three-second memory?\nExecutive Summary\n"
                     "Aquarium studies train goldfish to respond to sounds and lights for months.\n", "utf-8")
    r = CliRunner().invoke(app, ["for", str(draft), "--archive", str(archive), "--min-score", "0.2"])
    assert r.exit_code == 3
    assert r.stdout == ""
    assert "note: no question cleared the floor 0.200" in r.stderr


@pytest.mark.skipif(not JUDGED.is_dir(), reason="the judged drafts are not in this checkout")
def test_eval_judged_runs_on_the_shipped_collection(tmp_path):
    """`suggest eval judged` on the shipped collection and corpus: every figure present, the
    halves add up (24 + 24 drafts)."""
    import json

    archive = tmp_path / "corpus"
    shutil.copytree(CORPUS, archive, ignore=shutil.ignore_patterns(".suggest-index*"))
    r = CliRunner().invoke(app, ["eval", "judged", "--archive", str(archive), "--json", "--quiet"])
    assert r.exit_code == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["train"]["drafts"] + got["test"]["drafts"] == got["all"]["drafts"] == 48
    for split in got.values():
        assert 0 <= split["precision"] <= 1 and 0 <= split["ndcg@5"] <= 1 and 0 <= split["fill"] <= 1
