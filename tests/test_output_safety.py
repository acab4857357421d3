"""Output safety: archive text never becomes markup, user templates stay in their folder and
their sandbox, and ids never become paths.

HTML is checked by parsing it (html.parser): the only tags are the template's own, and every
text node equals the original archive string. Markdown is checked by rendering it with a
CommonMark parser (markdown-it-py, which rich brings): one list item per question, with the
question's exact text and no markup of its own.
"""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from suggest.cli import app
from suggest.files import safe_id
from suggest.index import build_index
from suggest.rank import suggest
from suggest.records import Check, RankOptions, Suggestion
from suggest.render import render

# -- generated strings -----------------------------------------------------------------------

TRICKY = [
    "<", ">", "&", '"', "'", "<script>", "</script>", "<script>alert(1)</script>", "<b>", "</li>", "</ul>",
    "<a href='javascript:alert(1)'>", "<img src=x onerror=alert(1)>", "<!--", "-->", "<![CDATA[", "<?xml",
    "&amp;", "&lt;", "&gt;", "&quot;", "&#60;", "&#x3C;", "&nbsp;", "&copy", "{{ 7*7 }}", "{%", "%}",
    "*", "**", "_", "__", "`", "```", "#", "# ", "[", "]", "(", ")", "[x](javascript:alert(1))", "![i](x.png)",
    "!", "|", "\\", "~~", "- ", "+ ", "1. ", "2) ", "> ", "=", "---", "<http://x.y>", "\u2028", "é", "😀",
]
piece = st.one_of(st.sampled_from(TRICKY), st.text(min_size=1, max_size=6))
tricky = st.lists(piece, min_size=1, max_size=10).map("".join)


def one_line(s: str) -> str:
    """What the reader leaves of a line: no line breaks, single spaces, stripped, no NUL."""
    return re.sub(r"\s+", " ", s.replace("\x00", "")).strip()


# -- HTML ---------------------------------------------------------------------------------------


class Tree(HTMLParser):
    """Every tag with its attributes, the text of each <li>, and anything unexpected."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, tuple]] = []
        self.items: list[str] = []
        self.outside: list[str] = []
        self.odd: list[str] = []
        self.depth = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, tuple(attrs)))
        if tag == "li":
            self.items.append("")
            self.depth += 1

    def handle_endtag(self, tag):
        if tag == "li":
            self.depth -= 1

    def handle_startendtag(self, tag, attrs):
        self.odd.append(f"<{tag}/>")

    def handle_data(self, data):
        if self.depth:
            self.items[-1] += data
        else:
            self.outside.append(data)

    def handle_comment(self, data):
        self.odd.append(f"comment {data!r}")

    def handle_decl(self, decl):
        self.odd.append(f"decl {decl!r}")

    def handle_pi(self, data):
        self.odd.append(f"pi {data!r}")

    def unknown_decl(self, data):
        self.odd.append(f"unknown {data!r}")


def parse_html(out: str) -> Tree:
    tree = Tree()
    tree.feed(out)
    tree.close()
    return tree


def expected_tags(suggestions: list[Suggestion]) -> list[tuple[str, tuple]]:
    tags: list[tuple[str, tuple]] = [("section", (("class", "dive-deeper"),)), ("h2", ()), ("ul", ())]
    for s in suggestions:
        tags.append(("li", (("data-status", s.status),)))
        if s.answered_by:
            tags.append(("a", (("href", f"#check-{safe_id(s.answered_by[0])}"),)))
    return tags


def check_html(out: str, suggestions: list[Suggestion]) -> None:
    tree = parse_html(out)
    assert tree.odd == []
    assert tree.tags == expected_tags(suggestions)
    assert tree.items == [s.question for s in suggestions]
    assert "".join(tree.outside).split() == "Want to dive deeper?".split()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(tricky, st.booleans(), tricky), min_size=1, max_size=5))
def test_html_shows_generated_text_as_text(rows):
    """render() directly on suggestions: any question text and check id stays text."""
    suggestions = [
        Suggestion(
            question=q,
            score=0.5,
            status="answered" if answered else "open",
            item=i,
            sources=(cid,),
            answered_by=(cid,) if answered else (),
        )
        for i, (q, answered, cid) in enumerate(rows)
    ]
    check_html(render(suggestions, "html"), suggestions)


BASE = [
    ("Do vaccines cause autism", "What did the Danish cohort studies find about autism",
     "How does vaccine safety monitoring work"),
    ("Is sea level rise accelerating", "How much will sea levels rise by 2100", "Which coastal cities sink fastest"),
    ("Do autism diagnoses rise with vaccination rates", "Did autism definitions widen in the 1990s",
     "Are vaccine schedules linked to autism in cohort studies"),
]
DRAFT = Check(
    id="new",
    title="New cohort studies on vaccines and autism",
    summary="Researchers followed children for years to test whether vaccines and autism are linked.",
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(tricky, tricky, tricky), min_size=len(BASE), max_size=len(BASE)))
def test_html_from_an_archive_with_markup_in_titles_and_questions(rows):
    """build_index on checks whose ids, titles and questions carry markup (as a JSON Lines export
    could), then suggest and render: the page shows the archive's strings, never its tags."""
    checks = [
        Check(id=f"{cid}{i}", title=f"{title} {t}?", summary=f"{t}. {q1}. {q2}.",
              questions=(f"{q1} {q}?", f"{q} {q2}?"))
        for i, ((cid, title, q), (t, q1, q2)) in enumerate(zip(rows, BASE, strict=True))
    ]
    ix = build_index(checks)
    ranked = suggest(ix, DRAFT, RankOptions(top=20, min_score=0.0))
    # Markup words can merge every vaccine question into one item close to the draft's own
    # title, which is then left out; hypothesis fails the test if that happens too often.
    assume(ranked)
    out = render(ranked, "html")
    check_html(out, ranked)
    strings = {c.title for c in checks} | {q for c in checks for q in c.questions}
    assert set(parse_html(out).items) <= strings


def test_html_escapes_a_known_attack():
    """One fixed example, readable: the attack is shown as text, attributes stay quoted."""
    s = Suggestion(
        question='<img src=x onerror="alert(1)"> & <script>alert(2)</script>?',
        score=0.9,
        status="answered",
        item=0,
        sources=(),
        answered_by=('x" onmouseover="alert(3)',),
    )
    out = render([s], "html")
    assert "<script>" not in out and "<img" not in out and 'onmouseover="' not in out
    check_html(out, [s])


# -- markdown -----------------------------------------------------------------------------------

def markdown_items(md: str) -> Tree:
    markdown_it = pytest.importorskip("markdown_it", reason="markdown-it-py (a dependency of rich) is needed")
    parser = markdown_it.MarkdownIt("commonmark").enable(["strikethrough", "table"])
    return parse_html(parser.render(md))


@settings(max_examples=300, deadline=None)
@given(st.lists(tricky.map(one_line).filter(bool), min_size=1, max_size=5))
def test_markdown_shows_generated_text_as_text(questions):
    suggestions = [Suggestion(question=q, score=0.5, status="open", item=i, sources=(), answered_by=())
                   for i, q in enumerate(questions)]
    tree = markdown_items(render(suggestions, "markdown"))
    assert tree.odd == []
    assert [t for t, _ in tree.tags] == ["h2", "ul"] + ["li"] * len(questions)
    assert tree.items == questions


def test_markdown_question_with_line_breaks_stays_one_item():
    """A JSON Lines export can carry a line break inside a question; it must not start a block."""
    s = Suggestion(question="Is it true?\n- no\n# Heading\n1. list", score=0.5, status="open", item=0,
                   sources=(), answered_by=())
    tree = markdown_items(render([s], "markdown"))
    assert [t for t, _ in tree.tags] == ["h2", "ul", "li"]
    assert tree.items[0].split() == s.question.split()


# -- user templates -----------------------------------------------------------------------------

TINY = {
    "vax-aaaaaa.txt": "Do vaccines cause autism?\nExecutive Summary\nCohort studies found no link between "
    "vaccines and autism.\nWant to dive deeper?\nWhat did the Danish cohort studies find about autism?\n"
    "How does vaccine safety monitoring work?\n",
    "sea-bbbbbb.txt": "Is sea level rise accelerating?\nExecutive Summary\nTide gauges show faster sea level "
    "rise.\nWant to dive deeper?\nHow much will sea levels rise by 2100?\nWhich coastal cities sink fastest?\n",
}


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("arch")
    for name, text in TINY.items():
        (root / name).write_text(text, "utf-8")
    (root / "draft.txt").write_text("Vaccines and autism\nExecutive Summary\nNew cohort studies on vaccines "
                                    "and autism.\n", "utf-8")
    r = CliRunner().invoke(app, ["index", "--archive", str(root), "--quiet"])
    assert r.exit_code == 0, r.stderr
    return root


@pytest.fixture
def folder(tmp_path) -> Path:
    """A template folder next to a secret file; links inside it point out of it."""
    (tmp_path / "secret.txt").write_text("TOP SECRET", "utf-8")
    tpl = tmp_path / "templates"
    tpl.mkdir()
    (tpl / "part.txt").write_text("[part]", "utf-8")
    os.symlink(tmp_path / "secret.txt", tpl / "link.txt")
    os.symlink(tmp_path, tpl / "up")
    return tpl


def run_template(archive: Path, template: Path):
    return CliRunner().invoke(
        app, ["for", str(archive / "draft.txt"), "--archive", str(archive), "--template", str(template), "--quiet"]
    )


def test_template_may_include_its_own_folder(archive, folder):
    """The containment below is not a blanket refusal: a sibling file can be included."""
    (folder / "ok.txt").write_text('{% include "part.txt" %}{% for s in suggestions %}|{{ s.question }}{% endfor %}')
    r = run_template(archive, folder / "ok.txt")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith("[part]|") and "vaccine" in r.stdout


ESCAPES = {
    "absolute include": '{% include "SECRET" %}',
    "dotdot through a subfolder": '{% include "sub/../../secret.txt" %}',
    "extends outside": '{% extends "../secret.txt" %}',
    "import absolute": '{% import "SECRET" as s %}{{ s }}',
    "symlinked file": '{% include "link.txt" %}',
    "symlinked folder": '{% include "up/secret.txt" %}',
}


@pytest.mark.parametrize("name", sorted(ESCAPES))
def test_template_cannot_read_outside_its_folder(archive, folder, name):
    tpl = folder / "evil.txt"
    tpl.write_text(ESCAPES[name].replace("SECRET", str(folder.parent / "secret.txt")), "utf-8")
    r = run_template(archive, tpl)
    assert r.exit_code == 1
    assert "TOP SECRET" not in r.stdout + r.stderr
    assert r.stdout == ""
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr


SANDBOX = {
    "class mro": "{{ ''.__class__.__mro__ }}",
    "one unsafe attribute": "{{ ''.__class__ }}",
    "function globals": "{{ check_url.__globals__ }}",
    "attr filter": "{{ suggestions | attr('__class__') }}",
    "format string": "{{ '{0.__class__}'.format(1) }}",
    "jinja global": "{{ cycler.__init__.__globals__ }}",
    "huge range": "{% for i in range(10**9) %}{% endfor %}",
    "division by zero": "{{ 1 / 0 }}",
    "type error": "{{ 1 + 'a' }}",
}


@pytest.mark.parametrize("name", sorted(SANDBOX))
def test_template_sandbox_blocks_tricks_with_one_line(archive, folder, name):
    tpl = folder / "trick.txt"
    tpl.write_text(SANDBOX[name], "utf-8")
    r = run_template(archive, tpl)
    assert r.exit_code == 1, f"rendered {r.stdout!r}"
    assert r.stdout == ""
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
    assert "Traceback" not in r.stderr


def test_template_that_is_not_utf8_is_one_line(archive, folder):
    tpl = folder / "latin1.txt"
    tpl.write_bytes("{{ 'caf\xe9' }}".encode("latin-1"))
    r = run_template(archive, tpl)
    assert r.exit_code == 1 and r.stdout == ""
    assert r.stderr.startswith(f"error: --template {tpl}") and r.stderr.count("\n") == 1, r.stderr


# -- ids as file names --------------------------------------------------------------------------

NASTY_IDS = ["../x", "../../etc/passwd", "/etc/passwd", "a\x00b", "", ".", "..", "...", ".hidden", "a/b/../c",
             "C:\\Windows\\x", "~/x", " ", "\u202e", "é"]


@settings(max_examples=500)
@given(st.one_of(st.sampled_from(NASTY_IDS), st.text(), tricky))
def test_safe_id_is_a_plain_file_name(cid):
    name = safe_id(cid)
    assert name and "/" not in name and "\x00" not in name and not name.startswith(".")
    assert re.fullmatch(r"[A-Za-z0-9_.\-]+", name)
    assert safe_id(name) == name
    folder = Path("/srv/lists")
    assert (folder / name).parent == folder and os.path.normpath(folder / name) == str(folder / name)


@pytest.mark.parametrize("cid", NASTY_IDS)
def test_safe_id_examples_stay_in_the_folder(tmp_path, cid):
    (tmp_path / safe_id(cid)).write_text("x", "utf-8")
    assert [p.name for p in tmp_path.iterdir()] == [safe_id(cid)]


@given(st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=5))
@settings(max_examples=200, deadline=None)
def test_text_format_is_one_question_a_line(questions):
    """Whatever a question holds (a library caller's `Check` can hold any text), the text
    format stays the seed's block: the heading, then exactly one line per question."""
    sugg = [Suggestion(question=q, score=0.5, status="open", item=i, sources=("a",), answered_by=())
            for i, q in enumerate(questions)]
    out = render(sugg, "text")
    lines = out.splitlines()
    assert lines[0] == "Want to dive deeper?" and len(lines) == 1 + len(questions)
