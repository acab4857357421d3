"""Evaluation on CheckThat!-layout folders: loader, qrels, metrics, run files, CLI, real data."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from suggest.cli import app
from suggest.errors import OptionError, SuggestError
from suggest.evaluate import (
    METRICS,
    CheckThat,
    Settings,
    available_splits,
    evaluate_checkthat,
    load_checks,
    load_split,
    metrics,
    query_articles,
    query_date,
    rank_bm25s,
    rank_suggest,
    read_run,
    settings,
    write_run,
)
from suggest.index import build_index
from suggest.query import NO_CLEANING, QueryCleaning, clean_query, split_words
from suggest.records import Check, IndexConfig, RankOptions
from suggest.signals import date_prior

VCLAIMS_2A = [
    {"title": "Did a Shark Swim Down a Flooded Houston Highway?", "subtitle": "A photo shows a shark on a highway.",
     "author": "A", "date": "28 August 2017", "vclaim_id": "vclaim-shark",
     "vclaim": "A shark swam down a flooded highway in Houston after Hurricane Harvey."},
    {"title": "Is Minecraft Shutting Down?", "subtitle": "Internet pranks are not confined to April Fools' Day.",
     "author": "B", "date": "2 January 2020", "vclaim_id": "vclaim-minecraft",
     "vclaim": "The popular video game Minecraft is shutting down in 2020."},
    {"title": "", "subtitle": "", "author": "C", "date": "not a date", "vclaim_id": "vclaim-notitle",
     "vclaim": "Drinking hot water cures the common cold."},
    {"title": "Did the Army Send Draft Texts?", "subtitle": "Fraudulent text messages about a military draft.",
     "author": "D", "date": "8 January 2020", "vclaim_id": "vclaim-draft",
     "vclaim": "The U.S. Army is sending text messages about a military draft."},
    {"title": "Do Bananas Grow on Trees?", "subtitle": "Banana plants are giant herbs.", "author": "E",
     "date": "1 May 2019", "vclaim_id": "vclaim-banana", "vclaim": "Bananas grow on trees."},
]

QUERIES = (
    "query_id\tquery_text\n"
    "t1\tWow a shark swimming on the flooded highway in Houston #HurricaneHarvey pic.twitter.com/abc"
    " \u2014 Jo Smith (@jsmith) August 28, 2017\n"
    't2\tgoogle says "Minecraft is shutting down, in 2020" https://t.co/x1\n'
    "t3\tDoes hot water cure a cold?\n"
    "t4\tZebras gallop quickly\n"
)
# t1 twice (the duplicated row of the real 2A dev qrels), t2 with two relevant checks, t4 unjudged.
QRELS = (
    "t1\t0\tvclaim-shark\t1\n"
    "t1\t0\tvclaim-shark\t1\n"
    "t2\t0\tvclaim-minecraft\t1\n"
    "t2\t0\tvclaim-banana\t1\n"
    "t3\t0\tvclaim-notitle\t1\n"
)


@pytest.fixture()
def folder_2a(tmp_path: Path) -> Path:
    d = tmp_path / "2021-2a-en"
    d.mkdir()
    (d / "vclaims.jsonl").write_text("".join(json.dumps(v) + "\n" for v in VCLAIMS_2A), "utf-8")
    (d / "train.queries.tsv").write_text(QUERIES, "utf-8")
    (d / "train.qrels").write_text(QRELS, "utf-8")
    return d


@pytest.fixture()
def folder_2b(tmp_path: Path) -> Path:
    d = tmp_path / "2021-2b-en"
    d.mkdir()
    rows = [
        {"url": "/factchecks/2019/oct/30/a/", "speaker": "A", "vclaim": "Taxes went up for the middle class.",
         "truth_label": "false", "date": "stated on October 22, 2019 in a campaign mailer.:",
         "title": "No, middle-class taxes did not rise", "text": "The claim about taxes.\nIncomes rose instead.",
         "vclaim_id": "vclaim-pol-1"},
        {"url": "/factchecks/2012/oct/23/b/", "speaker": "B", "vclaim": "Unemployment among veterans is lower.",
         "truth_label": "true", "date": "stated on October 23, 2012 in a debate:",
         "title": "Veterans' unemployment", "text": "", "vclaim_id": "vclaim-pol-2"},
    ]
    with gzip.open(d / "politifact_vclaims.jsonl.gz", "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    (d / "dev.queries.tsv").write_text(
        "query_id\tquery_text\nd_0001\tveterans' unemployment is actually now lower than general population\n",
        "utf-8")
    (d / "dev.qrels").write_text("d_0001\t0\tvclaim-pol-2\t1\n", "utf-8")
    return d


# -- loading ------------------------------------------------------------------------------------
def test_checks_from_2a_layout(folder_2a: Path) -> None:
    checks = {c.id: c for c in load_checks(folder_2a)}
    assert list(checks) == [v["vclaim_id"] for v in VCLAIMS_2A]
    shark = checks["vclaim-shark"]
    assert shark.title == "Did a Shark Swim Down a Flooded Houston Highway?"
    assert shark.summary == ("A shark swam down a flooded highway in Houston after Hurricane Harvey.\n"
                             "A photo shows a shark on a highway.")
    assert shark.sections == ()
    assert shark.questions == ()
    assert shark.checked_on == "2017-08-28"
    # An empty title falls back to the claim; an unreadable date is left out.
    assert checks["vclaim-notitle"].title == "Drinking hot water cures the common cold."
    assert checks["vclaim-notitle"].checked_on is None


def test_checks_from_2b_layout_gz(folder_2b: Path) -> None:
    a, b = load_checks(folder_2b)
    assert a.id == "vclaim-pol-1"
    assert a.summary == "Taxes went up for the middle class."
    assert a.body() == "The claim about taxes.\nIncomes rose instead."
    assert a.checked_on == "2019-10-22"
    assert a.url == "https://www.politifact.com/factchecks/2019/oct/30/a/"
    assert b.sections == ()


def test_split_reading_tabs_quotes_and_duplicates(folder_2a: Path) -> None:
    split = load_split(folder_2a, "train")
    assert [q for q, _ in split.queries] == ["t1", "t2", "t3", "t4"]
    # Split on the tab only: quotes and commas stay part of the text.
    assert split.queries[1][1] == 'google says "Minecraft is shutting down, in 2020" https://t.co/x1'
    assert split.duplicates == 1
    assert split.qrels == {
        "t1": {"vclaim-shark": 1}, "t2": {"vclaim-minecraft": 1, "vclaim-banana": 1}, "t3": {"vclaim-notitle": 1},
    }
    assert available_splits(folder_2a) == ["train"]


def test_missing_split_names_the_files(folder_2a: Path) -> None:
    with pytest.raises(SuggestError) as exc:
        load_split(folder_2a, "test")
    msg = str(exc.value)
    assert "no split 'test'" in msg
    assert "splits here: train" in msg
    assert "train.qrels, train.queries.tsv, vclaims.jsonl" in msg
    assert "\n" not in msg


def test_folder_without_vclaims(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x", "utf-8")
    with pytest.raises(SuggestError, match=r"no vclaims.jsonl or \*_vclaims.jsonl.gz here \(found: notes.txt\)"):
        load_checks(tmp_path)


def test_qrels_naming_an_unknown_query(folder_2a: Path) -> None:
    (folder_2a / "train.qrels").write_text("zz\t0\tvclaim-shark\t1\n", "utf-8")
    with pytest.raises(SuggestError, match="1 judged queries are not in train.queries.tsv"):
        load_split(folder_2a, "train")


# -- query cleaning -----------------------------------------------------------------------------
def test_clean_query_steps() -> None:
    tweet = ("Wow #AustralianFires pic.twitter.com/x1 https://t.co/y2#NowWhat "
             "\u2014 Center for Bio Div (@CenterForBioDiv) January 14, 2020")
    assert clean_query(tweet) == "Wow Australian Fires Now What Center for Bio Div"
    assert clean_query(tweet, QueryCleaning(tail_name=False)) == "Wow Australian Fires Now What"
    assert clean_query("@realDonaldTrump said it", QueryCleaning(handles="drop")) == "said it"
    assert clean_query("@realDonaldTrump said it") == "real Donald Trump said it"
    assert clean_query(tweet, NO_CLEANING) == tweet
    assert clean_query("https://t.co/abc") == "https://t.co/abc"  # nothing left: keep the original
    assert split_words("COVID19Vaccine") == "COVID 19 Vaccine"


def test_query_dates_and_the_date_prior(folder_2a: Path) -> None:
    assert query_date("t1", "a shark \u2014 Jo Smith (@jsmith) August 28, 2017") == "2017-08-28"
    assert query_date("20121023_third_presidential_debate_0959", "You were very clear") == "2012-10-23"
    assert query_date("t3", "Does hot water cure a cold?") is None
    arts = query_articles(load_split(folder_2a, "train"))
    assert [a.checked_on for a in arts] == ["2017-08-28", None, None, None]
    days = np.array([date(2017, 8, 28).toordinal(), date(2017, 9, 27).toordinal(), -1])
    prior = date_prior(np.array([date(2017, 8, 28).toordinal(), -1]), days, scale=30.0)
    assert prior.tolist() == [[1.0, 0.5, 0.0], [0.0, 0.0, 0.0]]


def test_date_prior_reorders_by_date(folder_2a: Path) -> None:
    """Two checks with the same words: the date prior puts the one dated near the query first."""
    checks = load_checks(folder_2a)
    twin = Check(id="vclaim-shark-2012", title=checks[0].title, summary=checks[0].summary, checked_on="2012-10-30")
    ix = build_index([*checks, twin], IndexConfig(ngram_max=1, dup_threshold=1.0))
    arts = [Check(id="q", title="shark swimming on a flooded Houston highway", checked_on="2012-10-29")]
    plain = rank_suggest(ix, arts, RankOptions(mmr_lambda=1.0, date_weight=0))["q"]
    dated = rank_suggest(ix, arts, RankOptions(mmr_lambda=1.0, date_weight=0.2))["q"]
    assert plain[0][0] == "vclaim-shark"  # equal scores: the smaller row (id) first
    assert dated[0][0] == "vclaim-shark-2012"
    assert {d for d, _ in dated} == {d for d, _ in plain}


# -- metrics and run files ----------------------------------------------------------------------
def test_metrics_on_a_ranking_computed_by_hand() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"a": 1, "c": 1}, "q3": {"z": 1}}
    run = {
        "q1": [("b", 0.9), ("a", 0.8), ("c", 0.1)],  # relevant at rank 2
        "q2": [("a", 0.9), ("b", 0.5), ("c", 0.5)],  # relevant at ranks 1 and 3 (tie kept in list order)
        "q3": [],  # nothing found
    }
    m = metrics(run, qrels)
    assert list(m) == list(METRICS)
    assert m["queries"] == 3
    # AP@5: q1 1/2; q2 (1/1 + 2/3) / 2; q3 0.
    assert m["map@5"] == pytest.approx(round((0.5 + (1 + 2 / 3) / 2) / 3, 4))
    # AP@1 divides by all relevant: q2 gives 1/2.
    assert m["map@1"] == pytest.approx(round(0.5 / 3, 4))
    assert m["mrr"] == pytest.approx(0.5)
    assert m["p@1"] == pytest.approx(round(1 / 3, 4))
    assert m["recall@5"] == pytest.approx(round((1 + 1 + 0) / 3, 4))


def test_metrics_ignore_unjudged_queries_and_count_missing_as_zero() -> None:
    m = metrics({"q1": [("a", 1.0)], "extra": [("a", 1.0)]}, {"q1": {"a": 1}, "q2": {"b": 1}})
    assert m["queries"] == 2
    assert m["map@5"] == 0.5
    with pytest.raises(SuggestError, match="no judged queries"):
        metrics({"q1": [("a", 1.0)]}, {})


def test_run_file_format_and_round_trip(tmp_path: Path) -> None:
    run = {"q1": [("a", 0.5), ("b", 0.5), ("c", 0.25)], "q2": [("d", 1.0)]}
    path = write_run(tmp_path / "run.txt", run, tag="mine")
    assert path.read_text("utf-8") == (
        "q1 Q0 a 1 0.500000 mine\n"
        "q1 Q0 b 2 0.499999 mine\n"  # a tie made strictly falling, so score order is our order
        "q1 Q0 c 3 0.250000 mine\n"
        "q2 Q0 d 1 1.000000 mine\n"
    )
    back = read_run(path)
    assert [d for d, _ in back["q1"]] == ["a", "b", "c"]
    assert metrics(back, {"q1": {"b": 1}})["mrr"] == 0.5
    assert not list(tmp_path.glob(".*tmp"))
    with pytest.raises(OptionError):
        write_run(tmp_path / "x.txt", run, tag="two words")


# -- ranking ------------------------------------------------------------------------------------
def test_rank_suggest_finds_the_paraphrased_checks(folder_2a: Path) -> None:
    checks = load_checks(folder_2a)
    split = load_split(folder_2a, "train")
    arts = query_articles(split, QueryCleaning())
    ix = build_index(checks, IndexConfig(ngram_max=1, dup_threshold=1.0))
    run = rank_suggest(ix, arts)
    assert run["t1"][0][0] == "vclaim-shark"
    assert run["t2"][0][0] == "vclaim-minecraft"
    assert run["t3"][0][0] == "vclaim-notitle"
    assert run["t4"] == []  # no shared word: nothing to suggest
    for ranked in run.values():
        scores = [s for _, s in ranked]
        assert scores == sorted(scores, reverse=True)
        assert len({d for d, _ in ranked}) == len(ranked)
    peer = rank_bm25s(checks, arts)
    assert peer["t1"][0][0] == "vclaim-shark"
    assert peer["t4"] == []


def test_depth_keeps_the_official_top_five_first(folder_2a: Path) -> None:
    checks = load_checks(folder_2a)
    arts = query_articles(load_split(folder_2a, "train"))
    ix = build_index(checks, IndexConfig(ngram_max=1, dup_threshold=1.0))
    deep = rank_suggest(ix, arts, depth=20)
    short = rank_suggest(ix, arts, depth=5)
    for q in short:
        assert deep[q][: len(short[q])] == short[q]


def test_evaluate_checkthat_limit_and_bad_peer(folder_2a: Path) -> None:
    res = evaluate_checkthat(folder_2a, "train", limit=2, peer=None)
    assert res.figures["suggest"]["queries"] == 2
    assert set(res.runs) == {"suggest"}
    with pytest.raises(OptionError):
        evaluate_checkthat(folder_2a, "train", peer="bm99")


def test_char_view_and_index_reuse(folder_2a: Path) -> None:
    data = CheckThat(folder_2a)
    words = data.evaluate("train", settings(preset="words-only"), peer=None)
    fused = data.evaluate("train", settings(preset="no-dates"), peer=None)
    again = data.evaluate("train", settings(preset="default"), peer=None)
    assert len(data._indexes) == 2  # one per IndexConfig, reused
    assert again.runs["suggest"]["t1"][0][0] == "vclaim-shark"
    assert fused.runs["suggest"]["t1"][0][0] == "vclaim-shark"
    # Fusing changes scores, never the set of judged queries.
    assert fused.figures["suggest"]["queries"] == words.figures["suggest"]["queries"] == 3
    assert fused.runs["suggest"]["t1"][0][1] != words.runs["suggest"]["t1"][0][1]


def test_settings_from_key_value_pairs() -> None:
    how = settings(["title_weight=0.5", "ngram-max=1", "mmr_lambda=1", "hashtags=drop", "sublinear_tf=false"])
    assert (how.config.title_weight, how.config.ngram_max, how.config.sublinear_tf) == (0.5, 1, False)
    assert how.opts.mmr_lambda == 1.0
    assert how.cleaning.hashtags == "drop"
    assert how.config.char_weight == IndexConfig().char_weight > 0
    assert settings(["clean=none"]).cleaning == NO_CLEANING
    c = settings(["char=3-5", "char_weight=2"]).config
    assert (c.char_ngram_min, c.char_ngram_max, c.char_weight) == (3, 5, 2.0)
    assert settings(["char=none"]).config.char_weight == 0
    # The evaluation's default is `suggest for` without its list rules; as-shipped keeps them.
    assert settings() == Settings()
    assert (settings().opts.mmr_lambda, settings().opts.min_score, settings().config.dup_threshold) == (1, 0, 1)
    shipped = settings(preset="as-shipped")
    assert (shipped.config, shipped.opts) == (IndexConfig(), RankOptions())
    assert settings(preset="no-dates").opts.date_weight == 0
    assert settings(["date_weight=0.5", "date_scale=7"]).opts.date_scale == 7.0
    with pytest.raises(OptionError, match="date_scale"):
        settings(["date_scale=0"])
    assert settings(["title_weight=2"], preset="words-only").config.title_weight == 2.0
    with pytest.raises(OptionError, match="use char=MIN-MAX"):
        settings(["char=big"])
    with pytest.raises(OptionError, match="preset 'best'"):
        settings(preset="best")
    with pytest.raises(OptionError, match="KEY one of"):
        settings(["colour=blue"])
    with pytest.raises(OptionError, match="is not a int"):
        settings(["ngram_max=two"])
    with pytest.raises(OptionError):
        settings(["ngram_max=7"])
    with pytest.raises(OptionError, match="not used by the evaluation"):
        settings(["open_only=true"])


# -- the command --------------------------------------------------------------------------------
runner = CliRunner()


def test_cli_json_with_peer(folder_2a: Path, tmp_path: Path) -> None:
    out = tmp_path / "run.txt"
    res = runner.invoke(app, ["eval", "checkthat", str(folder_2a), "--split", "train", "--json", "--run", str(out)])
    assert res.exit_code == 0, res.output
    figures = json.loads(res.stdout)
    assert list(figures) == ["suggest", "bm25s"]
    for system in figures.values():
        assert list(system) == list(METRICS)
        assert system["queries"] == 3
    assert read_run(out)["t1"][0][0] == "vclaim-shark"
    assert "note: train.qrels repeats 1 row(s); counted once" in res.stderr


def test_cli_json_without_peer_and_table(folder_2a: Path) -> None:
    res = runner.invoke(app, ["eval", "checkthat", str(folder_2a), "--split", "train", "--json", "--peer", "none",
                              "--quiet"])
    assert res.exit_code == 0, res.output
    assert list(json.loads(res.stdout)) == list(METRICS)
    assert res.stderr == ""
    res = runner.invoke(app, ["eval", "checkthat", str(folder_2a), "--split", "train", "-q"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["metric", "suggest", "bm25s"]
    assert [ln.split()[0] for ln in lines[1:]] == list(METRICS)
    assert lines[1].split()[1:] == ["3", "3"]


def test_cli_missing_split_is_one_line_and_exit_1(folder_2a: Path) -> None:
    res = runner.invoke(app, ["eval", "checkthat", str(folder_2a), "--split", "dev", "--peer", "none"])
    assert res.exit_code == 1
    assert res.stdout == ""
    assert res.stderr.count("\n") == 1
    assert res.stderr.startswith(f"error: {folder_2a}: no split 'dev'")
    assert "train.qrels, train.queries.tsv, vclaims.jsonl" in res.stderr


def test_cli_bad_inputs_exit_1(folder_2a: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["eval", "checkthat", str(tmp_path / "nope"), "--split", "train"])
    assert res.exit_code == 1
    assert "does not exist" in res.stderr
    res = runner.invoke(app, ["eval", "trec", str(folder_2a), "--split", "train"])
    assert res.exit_code == 1
    res = runner.invoke(app, ["eval", "checkthat", str(folder_2a), "--split", "train", "--set", "colour=blue"])
    assert res.exit_code == 1
    assert res.stderr.startswith("error: --set 'colour=blue'")


def test_cli_2b_layout(folder_2b: Path) -> None:
    res = runner.invoke(app, ["eval", "checkthat", str(folder_2b), "--split", "dev", "--json", "-q"])
    assert res.exit_code == 0, res.output
    figures = json.loads(res.stdout)
    assert figures["suggest"]["queries"] == 1
    assert figures["suggest"]["p@1"] == 1.0
    assert figures["bm25s"]["p@1"] == 1.0


# -- real data ----------------------------------------------------------------------------------
# Measured on 2A dev with the default settings (docs/evaluation.md): MAP@5 FLOOR_2A_DEV.
FLOOR_2A_DEV = 0.0
MARGIN = 0.02


def test_real_2a_dev_map5_above_floor(shared_dir: Path) -> None:
    folder = shared_dir / "data" / "checkthat" / "2021-2a-en"
    if not (folder / "dev.qrels").is_file():
        pytest.skip(f"{folder} has no dev split: the CheckThat data lives in ../shared/data/checkthat")
    res = evaluate_checkthat(folder, "dev", peer=None)
    m = res.figures["suggest"]
    assert m["queries"] == 199  # 200 qrels rows, one repeated
    assert m["map@5"] >= FLOOR_2A_DEV - MARGIN
