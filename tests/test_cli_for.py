"""`suggest for` and `suggest index` through the real CLI (CliRunner): every option, every error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import corpus_copy
from typer.testing import CliRunner

from suggest.cli import app

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
EXAMPLES = ROOT / "examples"
SEA = EXAMPLES / "draft-sea-level.txt"
BALLOTS = EXAMPLES / "draft-mail-ballots.txt"

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="shipped corpus/ missing")


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return corpus_copy(tmp_path_factory, "arch")


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(app, list(args), input=input)


def lines_of(out: str) -> list[str]:
    return out.splitlines()


def test_text_output_is_the_seed_block(archive):
    r = run("for", str(BALLOTS), "--archive", str(archive))
    assert r.exit_code == 0, r.stderr
    lines = lines_of(r.stdout)
    assert lines[0] == "Want to dive deeper?"
    assert 1 <= len(lines) - 1 <= 5
    assert all(q.endswith("?") for q in lines[1:])
    assert any("ballots" in q for q in lines[1:])


def test_same_input_same_output(archive):
    a = run("for", str(SEA), "--archive", str(archive), "-f", "json").stdout
    b = run("for", str(SEA), "--archive", str(archive), "-f", "json").stdout
    assert a == b and json.loads(a)


def test_json_fields_and_scores_sorted(archive):
    r = run("for", str(BALLOTS), "--archive", str(archive), "--format", "json")
    rows = json.loads(r.stdout)
    assert rows and set(rows[0]) >= {"question", "score", "status", "sources"}
    scores = [x["score"] for x in rows]
    assert scores == sorted(scores, reverse=True)
    assert all(x["status"] in ("open", "answered") for x in rows)
    assert all(0.1 <= x["score"] <= 1 for x in rows)


def test_top_and_min_score_and_short_list_note(archive):
    r = run("for", str(BALLOTS), "--archive", str(archive), "--top", "2", "-f", "json")
    assert len(json.loads(r.stdout)) == 2
    r = run("for", str(BALLOTS), "--archive", str(archive), "--min-score", "0.99")
    assert r.exit_code == 3  # no bare heading: nothing on stdout, the reason on stderr
    assert r.stdout == ""
    assert "note: no question cleared the floor 0.990; no other candidate scored that high" in r.stderr
    r = run("for", str(BALLOTS), "--archive", str(archive), "--min-score", "0.3")
    assert r.exit_code == 0 and 2 <= r.stdout.count("\n") <= 5  # the heading and fewer than 5 questions
    assert "note: only " in r.stderr and "cleared the floor 0.300" in r.stderr


def test_since_later_than_until_is_an_error(archive):
    r = run("for", str(BALLOTS), "--archive", str(archive), "--since", "2026-01-01", "--until", "2025-01-01")
    assert r.exit_code == 1
    assert r.stderr.strip() == "error: --since 2026-01-01 is later than --until 2025-01-01; swap them"


def test_explain_names_what_was_held_back(archive):
    """The bottled-water check as an article: its own questions are held back, each with its reason."""
    article = archive / "environment" / "bottled-water-microplastics-a1b96e.txt"
    r = run("for", str(article), "--archive", str(archive), "--explain", "--min-score", "0.5")
    assert r.exit_code == 3 and r.stdout == ""
    assert "held back above it: a question of the article's own check x6" in r.stderr
    assert r.stderr.count("held back: a question of the article's own check") == 6
    assert "held back: below the floor (" in r.stderr  # the near misses, with their scores


def test_open_only_leaves_out_answered(archive):
    everything = json.loads(
        run("for", str(SEA), "--archive", str(archive), "-f", "json", "--top", "10", "--min-score", "0.05").stdout
    )
    assert any(x["status"] == "answered" for x in everything)
    only_open = json.loads(
        run(
            "for",
            str(SEA),
            "--archive",
            str(archive),
            "-f",
            "json",
            "--top",
            "10",
            "--min-score",
            "0.05",
            "--open-only",
        ).stdout
    )
    assert only_open and all(x["status"] == "open" for x in only_open)


def test_since_until_filter_by_raised_date(archive):
    rows = json.loads(run("for", str(BALLOTS), "--archive", str(archive), "-f", "json", "--since", "2025-10-01").stdout)
    assert rows and all(any(d >= "2025-10-01" for d in x["raised_on"]) or x["status"] == "answered" for x in rows)
    none = run("for", str(BALLOTS), "--archive", str(archive), "-f", "json", "--until", "2000-01-01")
    assert none.exit_code == 3 and json.loads(none.stdout) == []
    assert "held back above it: raised outside --since/--until x" in none.stderr  # the real reason
    bad = run("for", str(BALLOTS), "--archive", str(archive), "--since", "last week")
    assert bad.exit_code == 1 and bad.stderr == "error: --since 'last week' is not a date; use YYYY-MM-DD\n"


def test_markdown_and_html(archive):
    md = run("for", str(BALLOTS), "--archive", str(archive), "-f", "markdown").stdout
    assert md.startswith("## Want to dive deeper?\n\n- ")
    html = run("for", str(SEA), "--archive", str(archive), "-f", "html", "--min-score", "0.05", "--top", "8").stdout
    assert html.startswith('<section class="dive-deeper">')
    assert '<a href="#check-' in html  # answered questions link to their check


def test_html_escapes_archive_text(tmp_path):
    arch = tmp_path / "arch"
    arch.mkdir()
    (arch / "x-aaaaaa.txt").write_text(
        "Is <script>alert(1)</script> safe?\nExecutive Summary\nScript tags and alerts in pages.\n"
        'Want to dive deeper?\nDo <b>script</b> alerts & <3 "tags" run in pages of kiosks, ATMs, ticket machines, car dashboards, fridges or watches?\n',
        "utf-8",
    )
    art = tmp_path / "a.txt"
    art.write_text(
        "Web safety\nExecutive Summary\nWhether script tags and alerts run in web pages. Regulators, browser "
        "vendors, standards bodies and auditors publish guidance every year on security practices.\n",
        "utf-8",
    )
    out = run("for", str(art), "--archive", str(arch), "-f", "html", "--min-score", "0").stdout
    assert "<b>" not in out and "<script>" not in out
    # The reader already drops tags; what is left is escaped (here the answering check's title;
    # the question restates this one-check archive's text, so it is held back).
    assert '<a href="#check-aaaaaa">Is alert(1) safe?</a>' in out


def test_stdin_article(archive):
    r = run("for", "-", "--archive", str(archive), input=BALLOTS.read_text("utf-8"))
    assert r.exit_code == 0
    assert r.stdout == run("for", str(BALLOTS), "--archive", str(archive)).stdout


def test_explain_goes_to_stderr_with_readable_words(archive):
    r = run("for", str(BALLOTS), "--archive", str(archive), "--explain")
    assert r.exit_code == 0
    assert r.stdout.startswith("Want to dive deeper?\n")
    assert "matched:" in r.stderr and "raised by" in r.stderr
    assert "ballots" in r.stderr  # a readable word, not the stem "ballot"


def test_user_template(archive, tmp_path):
    tpl = tmp_path / "mine.txt"
    tpl.write_text("{% for s in suggestions %}* {{ s.question }} [{{ s.status }}]\n{% endfor %}", "utf-8")
    r = run("for", str(BALLOTS), "--archive", str(archive), "--template", str(tpl))
    assert r.exit_code == 0
    assert all(line.startswith("* ") and line.endswith(("[open]", "[answered]")) for line in lines_of(r.stdout))


def test_template_cannot_include_files_outside_its_folder(archive, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET", "utf-8")
    folder = tmp_path / "tpl"
    folder.mkdir()
    (folder / "evil.txt").write_text('{% include "../secret.txt" %}', "utf-8")
    r = run("for", str(BALLOTS), "--archive", str(archive), "--template", str(folder / "evil.txt"))
    assert r.exit_code == 1 and "TOP SECRET" not in r.stdout
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["for", "missing.txt"], "error: missing.txt: no such article file; give a saved article or - for stdin\n"),
        (["for", str(SEA), "-f", "xml"], "error: unknown format 'xml'; use one of: text, markdown, html, json\n"),
        (["for", str(SEA), "--top", "0"], "error: Invalid value for '--top' / '-n'"),
        (["for", str(SEA), "--min-score", "2"], "error: --min-score 2.0: use a value from 0 to 1\n"),
        (["for"], "error: Missing argument 'article'."),
    ],
)
def test_errors_are_one_line_exit_1(archive, args, message):
    r = run(*args, "--archive", str(archive)) if args[1:] else run(*args)
    assert r.exit_code == 1
    assert r.stderr.startswith(message)
    assert r.stderr.count("\n") == 1 and r.stdout == ""


def test_empty_article(archive, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n", "utf-8")
    r = run("for", str(empty), "--archive", str(archive))
    assert r.exit_code == 1
    assert r.stderr == f"error: {empty}: empty article: no title or text to match; give the draft's text\n"


def test_archive_with_no_questions(tmp_path):
    arch = tmp_path / "arch"
    arch.mkdir()
    (arch / "one-abcdef.txt").write_text("Is tea healthy?\nExecutive Summary\nTea is fine.\n", "utf-8")
    (arch / "two-bcdefa.txt").write_text("Is coffee healthy?\nExecutive Summary\nCoffee is fine.\n", "utf-8")
    r = run("for", str(SEA), "--archive", str(arch))
    assert r.exit_code == 1
    assert r.stderr.splitlines()[-1] == (
        "error: the archive has no dive-deeper questions to suggest; "
        "add checks that end with a 'Want to dive deeper?' list"
    )


def test_missing_archive(tmp_path):
    r = run("for", str(SEA), "--archive", str(tmp_path / "nope"))
    assert r.exit_code == 1 and r.stderr.startswith("error: ") and "nope" in r.stderr


def test_env_var_archive(archive, monkeypatch):
    monkeypatch.setenv("SUGGEST_ARCHIVE", str(archive))
    r = run("for", str(BALLOTS))
    assert r.exit_code == 0 and r.stdout.startswith("Want to dive deeper?\n")


def test_index_command_and_custom_index_dir(archive, tmp_path):
    r = run("index", "--archive", str(archive), "--index", str(tmp_path / "ix"))
    assert r.exit_code == 0
    assert "64 checks" in r.stderr and str(tmp_path / "ix") in r.stderr
    again = run("index", "--archive", str(archive), "--index", str(tmp_path / "ix"))
    assert "index up to date" in again.stderr
    r = run("for", str(BALLOTS), "--archive", str(archive), "--index", str(tmp_path / "ix"))
    assert r.exit_code == 0 and "indexing" not in r.stderr


def test_every_command_has_help_with_an_example():
    top = run("--help")
    commands = [line.split()[0] for line in top.stdout.split("Commands:")[1].splitlines() if line.strip()]
    assert {"for", "index", "show"} <= set(commands)
    for c in commands:
        r = run(c, "--help")
        assert r.exit_code == 0 and "Example: suggest " in r.stdout, c
