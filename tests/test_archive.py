"""The reader: every rendering and body format of FORMAT.md, every bad input of issue 2, the CLI."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import suggest.archive as archive_mod
import suggest.readers as readers_mod
from suggest.archive import read_archive, read_file
from suggest.cli import app
from suggest.errors import ArchiveError, SuggestError
from suggest.readers import check_from_json, parse_article, stable_id
from suggest.records import Archive, Check, Problem, Section

FIXTURES = Path(__file__).resolve().parent / "fixtures"

# What each fixture must read as (all fields but `path`). Written by hand from the fixture text.
EXPECTED: dict[str, dict] = {
    # Banner with the Time left / Goal lines, "Fact check: " prefix, date, format B with
    # "Executive Summary" on its own line, blank lines, citations in every form, U+2011.
    "health/eight-hours-sleep-b1a2c3.txt": {
        "id": "b1a2c3",
        "title": "Do adults need eight hours of sleep a night?",
        "checked_on": "2025-03-04",
        "summary": "Sleep-medicine bodies recommend seven or more hours for most adults [1] [2]. "
        "The \u201ceight hours\u201d figure is a rounded rule of thumb, not a fixed threshold [3] [1] [12].",
        "sections": [
            {
                "heading": "What the guidelines say \u2014 seven hours or more",
                "text": "The joint consensus statement recommends at least seven hours a night for adults "
                "aged 18\u201360 [1], [2], and [5].",
            },
            {
                "heading": "Why individual needs differ",
                "text": "According to [4], twin studies point to a genetic component; short-sleeper "
                "variants are rare[6] [6].",
            },
        ],
        "questions": [
            "How much sleep do teenagers need compared with adults?",
            "Does sleeping more on weekends repay a sleep debt?",
            "Is napping a substitute for nighttime sleep?",
            "What happens to the body after one night without sleep?",
            "Do sleep trackers measure sleep stages accurately?",
        ],
        "category": "health",
        "url": None,
    },
    # Banner with Goal supporters / Loading..., no blank lines at all, question typed without
    # "?" in lowercase, lowercase "Executive summary", U+2010 hyphens, a curly apostrophe.
    "science/moon-phases-shadow-c4d5e6.txt": {
        "id": "c4d5e6",
        "title": "are the moon's phases caused by earth's shadow",
        "checked_on": "2026-01-15",
        "summary": "No. The phases come from the changing angle between the Sun, the Moon and an observer "
        "on Earth [1]. Earth\u2019s shadow falls on the Moon only during a lunar eclipse [2].",
        "sections": [
            {
                "heading": "How the phases work",
                "text": "Half of the Moon is always lit by the Sun; over a 29.5-day cycle we see different "
                "fractions of that lit half [1] [3].",
            },
            {
                "heading": "Why the shadow explanation fails",
                "text": "A crescent Moon sits close to the Sun in the sky, where Earth's shadow cannot be [3].\n"
                "Eclipses happen only at full moon, a well-known pattern [2].",
            },
        ],
        "questions": [
            "Why does the Moon always show the same face to Earth?",
            "How often do lunar eclipses happen?",
            "Why does the Moon look bigger near the horizon?",
            "Does the Moon's phase affect human sleep or behaviour?",
            "How did ancient astronomers explain lunar phases?",
        ],
        "category": "science",
        "url": None,
    },
    # Banner without dynamic lines, a statement as title, inline "Executive Summary — text",
    # no id in the file name (stable hash), three questions.
    "finance/minimum-wage-jobs.txt": {
        "id": stable_id("Raising the minimum wage always destroys jobs.", None),
        "title": "Raising the minimum wage always destroys jobs.",
        "checked_on": None,
        "summary": "Research finds small or no employment effects for moderate increases [2] [1]; effects of "
        "large increases are less certain [3].",
        "sections": [
            {
                "heading": "What the studies measure",
                "text": "Most studies compare nearby areas with and without an increase [1].",
            },
            {
                "heading": "Where the evidence is thin",
                "text": "Increases far above local median wages have rarely been studied [3] [4].",
            },
        ],
        "questions": [
            'What is the "bite" of a minimum wage and why does it matter?',
            "Do minimum wage increases raise prices at restaurants?",
            "How do economists measure the employment effects of wage floors?",
        ],
        "category": "finance",
        "url": None,
    },
    # No banner; every boilerplate line after the title and date; format A with trailing ':'
    # headings, "  • " and "- Label: text" bullets.
    "society/great-fire-london-deaths-e7f8a9.txt": {
        "id": "e7f8a9",
        "title": "Did the Great Fire of London kill only six people?",
        "checked_on": "2024-12-09",
        "summary": "Six deaths were recorded officially in 1666 [1].\nHistorians argue the true toll is "
        "unknown, because deaths of the poor were often not recorded [2] [3].",
        "sections": [
            {
                "heading": "Summary of the results",
                "text": "Six deaths were recorded officially in 1666 [1].\nHistorians argue the true toll is "
                "unknown, because deaths of the poor were often not recorded [2] [3].",
            },
            {
                "heading": "Missing context/alternative viewpoints",
                "text": "Record keeping: parish registers were incomplete during the fire [2].\nLater "
                "estimates: some writers suggest hundreds died, but the evidence is indirect [4].",
            },
            {
                "heading": "Potential misinformation/bias in the original statement",
                "text": "The phrase \u201conly six\u201d treats the official count as a complete count [1].",
            },
        ],
        "questions": [
            "How were deaths recorded in 17th-century London?",
            "Did the Great Fire end the plague of 1665?",
            "How long did it take to rebuild the City of London?",
            "Who was blamed for starting the fire at the time?",
            "How accurate are death counts from historical disasters?",
        ],
        "category": "society",
        "url": None,
    },
    # Markdown-link title (id and category from the URL), format A in **...**, a stray *.
    "md-link-title.txt": {
        "id": "d7e8f9",
        "title": "Does 5G cause illness?",
        "checked_on": None,
        "summary": "Health agencies have found no evidence that 5G signals at permitted levels cause illness [1] [2].",
        "sections": [
            {
                "heading": "Summary of the results",
                "text": "Health agencies have found no evidence that 5G signals at permitted levels cause "
                "illness [1] [2].",
            },
            {
                "heading": "Missing context/alternative viewpoints",
                "text": "Exposure limits: they include a wide safety margin below heating thresholds [3].",
            },
            {
                "heading": "Potential misinformation/bias in the original statement",
                "text": "Timing: the claim spread in 2020 alongside COVID-19 rumours [4].",
            },
        ],
        "questions": [
            "How are radio-frequency exposure limits set?",
            "Do 5G frequencies penetrate the skin?",
            "Why did 5G rumours spread during the pandemic?",
        ],
        "category": "technology",
        "url": "https://factually.co/fact-checks/technology/5g-illness-claims-d7e8f9",
    },
    # HTML-anchor title, format A with '# ' headings, an HTML attribute fragment in the text.
    "html-anchor-title.txt": {
        "id": "0a1b2c",
        "title": "What happens if the Electoral College ties?",
        "checked_on": "2026-02-02",
        "summary": "The House of Representatives chooses the President, with one vote per state delegation [1].",
        "sections": [
            {
                "heading": "Summary of the results",
                "text": "The House of Representatives chooses the President, with one vote per state delegation [1].",
            },
            {
                "heading": "Missing context/alternative viewpoints",
                "text": "The Senate chooses the Vice President [1] [2].",
            },
            {
                "heading": "Potential misinformation/bias in the original statement",
                "text": "A tie has happened once, in 1800, under rules the 12th Amendment later changed [3].",
            },
        ],
        "questions": [
            "How many electoral votes are needed to win the presidency?",
            "Has the House ever chosen the President?",
            "What did the 12th Amendment change?",
            "Could a state delegation split evenly in a contingent election?",
            "When is the Electoral College vote counted in Congress?",
        ],
        "category": "politics",
        "url": "https://factually.co/fact-checks/politics/electoral-college-tie-0a1b2c",
    },
    # Non-English title, inline "Executive Summary: text".
    "health/cafe-deshidrata-f0a1b2.txt": {
        "id": "f0a1b2",
        "title": "\u00bfEs cierto que el caf\u00e9 deshidrata?",
        "checked_on": None,
        "summary": "Moderate coffee intake does not cause net dehydration in regular drinkers [1] [2].",
        "sections": [
            {
                "heading": "What the studies measured",
                "text": "A 2014 trial compared coffee with water in men who drank coffee daily and found no "
                "difference in hydration markers [1].",
            },
            {
                "heading": "Caffeine and tolerance",
                "text": "Caffeine has a mild diuretic effect that fades with regular use [2] [3].",
            },
        ],
        "questions": [
            "Does tea hydrate as well as water?",
            "How much caffeine is safe per day?",
            "Do energy drinks count toward daily fluid intake?",
            "Is decaffeinated coffee processed with chemicals?",
            "Does coffee raise blood pressure in the long term?",
        ],
        "category": "health",
        "url": None,
    },
    # Bare-topic title, a paragraph on the heading line after ': ', dive-deeper after an
    # empty heading.
    "policy/daylight-saving-time-a9b8c7.txt": {
        "id": "a9b8c7",
        "title": "Daylight saving time",
        "checked_on": "2025-10-30",
        "summary": "Evidence on energy savings from daylight saving time is mixed and the savings are small [1] [2].",
        "sections": [
            {
                "heading": "Energy savings",
                "text": "Studies of the 2007 US extension found electricity savings of about 0.5 percent per "
                "day of extended time, while an Indiana study found a small increase in residential use "
                "[1] [2].",
            },
            {
                "heading": "Health effects \u2014 the spring transition",
                "text": "The week after the spring change shows more traffic accidents in some studies [3].",
            },
            {"heading": "What remains unsettled", "text": ""},
        ],
        "questions": [
            "Would permanent standard time be healthier than permanent daylight time?",
            "Which countries have abolished clock changes?",
            "Does daylight saving time reduce crime?",
            "How did the 1974 US experiment with year-round daylight time end?",
            "Do clock changes affect heart attack rates?",
        ],
        "category": "policy",
        "url": None,
    },
}
FIXTURE_NAMES = sorted(EXPECTED)
BOILERPLATE = (
    "Keep Factually",
    "Whether you agree or disagree",
    "Loading...",
    "Disclaimer: Factually",
    "may be outdated",
    "fact-check helpful",
    "Reach out!",
    "regarding Factually",
)
BANNER = (
    "Keep Factually independent\n"
    "Whether you agree or disagree with our analysis, these conversations matter for democracy. "
    "We don't take money from political groups - even a $5 donation helps us keep it that way.\n"
)


def one_check(path: Path) -> dict:
    checks, problems = read_file(path)
    assert problems == []
    assert len(checks) == 1
    return checks[0].to_dict()


def without_path(d: dict) -> dict:
    return {k: v for k, v in d.items() if k != "path"}


def every_text(d: dict) -> list[str]:
    return [d["title"], d["summary"], *(s["heading"] for s in d["sections"]), *(s["text"] for s in d["sections"]),
            *d["questions"]]  # fmt: skip


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, "utf-8")
    else:
        path.write_bytes(data)
    return path


# --- every rendering and body format -------------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_parsed_exactly(name):
    path = FIXTURES / name
    assert one_check(path) == {**EXPECTED[name], "path": str(path)}


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_no_boilerplate_and_no_markup_reaches_a_record(name):
    for text in every_text(one_check(FIXTURES / name)):
        assert not any(b in text for b in BOILERPLATE), text
        assert not any(m in text for m in ("**", "\u2011", "\u2010", "<a", "href", "](", "\u2022")), text
        assert not text.startswith(("# ", "- ", "*")), text


@pytest.mark.parametrize("name", FIXTURE_NAMES)
@pytest.mark.parametrize("variant", ["no blank lines", "blank line after every line", "blank lines with spaces"])
def test_blank_lines_never_matter(name, variant, tmp_path):
    lines = (FIXTURES / name).read_text("utf-8").splitlines()
    if variant == "no blank lines":
        text = "\n".join(x for x in lines if x.strip())
    elif variant == "blank line after every line":
        text = "\n\n".join(lines)
    else:
        text = "\n \t\n".join(lines)
    assert without_path(one_check(write(tmp_path / name, text))) == EXPECTED[name]


@pytest.mark.parametrize("name", FIXTURE_NAMES)
@pytest.mark.parametrize(
    ("variant", "encode"),
    [
        ("CRLF", lambda t: t.replace("\n", "\r\n").encode("utf-8")),
        ("BOM", lambda t: b"\xef\xbb\xbf" + t.encode("utf-8")),
        ("BOM and CRLF", lambda t: b"\xef\xbb\xbf" + t.replace("\n", "\r\n").encode("utf-8")),
        ("old Mac CR", lambda t: t.replace("\n", "\r").encode("utf-8")),
    ],
)
def test_bom_and_line_endings_are_fine(name, variant, encode, tmp_path):
    data = encode((FIXTURES / name).read_text("utf-8"))
    assert without_path(one_check(write(tmp_path / name, data))) == EXPECTED[name], variant


def test_fixture_folder_reads_with_categories_from_folders_and_urls():
    arch = read_archive(FIXTURES)
    assert arch.problems == [] and arch.ignored == []
    assert arch.summary() == "read 8 files (8 checks), skipped 0"
    assert {c.path: c.category for c in arch.checks} == {
        str(FIXTURES / n): EXPECTED[n]["category"] for n in FIXTURE_NAMES
    }
    # Path order, so the same archive always reads the same way.
    assert [c.path for c in arch.checks] == sorted(
        (c.path for c in arch.checks), key=lambda p: (Path(p).parent != FIXTURES, p)
    )


def test_category_from_nearest_category_folder_url_wins(tmp_path):
    md = (FIXTURES / "md-link-title.txt").read_text("utf-8")
    sleep = (FIXTURES / "health/eight-hours-sleep-b1a2c3.txt").read_text("utf-8")
    write(tmp_path / "arch/Health/2025/march/sleep-b1a2c3.txt", sleep)  # nested, capitalised
    write(tmp_path / "arch/health/5g.txt", md)  # the URL says technology
    write(tmp_path / "arch/unsorted/sleep-copy-b1a2c4.txt", sleep)  # no category folder
    arch = read_archive(tmp_path / "arch")
    assert {Path(c.path).name: c.category for c in arch.checks} == {
        "sleep-b1a2c3.txt": "health",
        "5g.txt": "technology",
        "sleep-copy-b1a2c4.txt": None,
    }
    # A file read on its own has no archive root: only its own folder's name counts.
    cafe = FIXTURES / "health/cafe-deshidrata-f0a1b2.txt"
    assert read_file(cafe)[0][0].category == "health"
    assert read_archive(cafe).checks[0].category == "health"
    assert read_archive(FIXTURES / "health").checks[0].category == "health"
    only = read_archive(tmp_path / "arch/Health/2025/march/sleep-b1a2c3.txt")
    assert [c.category for c in only.checks] == [None]


def test_url_kept_on_a_line_of_its_own_is_the_url_not_the_title():
    url = "https://factually.co/fact-checks/science/sky-colour-abc123"
    before = parse_article(f"{url}\nWhy is the sky blue?\nExecutive Summary\nRayleigh scattering [1].\n", "x.txt")
    after = parse_article(f"Why is the sky blue?\n<{url}>\nExecutive Summary\nRayleigh scattering [1].\n", "x.txt")
    for c in (before, after):
        assert (c.title, c.url, c.id, c.category, c.summary) == (
            "Why is the sky blue?",
            url,
            "abc123",
            "science",
            "Rayleigh scattering [1].",
        )


def test_unquoted_href_and_prefixed_link_title():
    c = parse_article(
        "Fact check: <a href=https://factually.co/fact-checks/media/bots-bd20c6>Do bots spread fake news?</a>\n"
        "Executive Summary: Some do [1].\n",
        "x.txt",
    )
    assert (c.title, c.url, c.id, c.category) == (
        "Do bots spread fake news?",
        "https://factually.co/fact-checks/media/bots-bd20c6",
        "bd20c6",
        "media",
    )


def test_six_hex_id_from_file_name_else_stable_hash():
    text = "Is it true?\nExecutive Summary\nNo.\n"
    assert parse_article(text, "a/whatever-0f1e2d.txt").id == "0f1e2d"
    assert parse_article(text, "a/0f1e2d.txt").id == "0f1e2d"
    # 16 hex digits (the seed's file name) are not a 6-hex id; neither is an upper-case suffix.
    assert parse_article(text, "a/000_1f06302fe90c9b35.txt").id == stable_id("Is it true?", None)
    assert parse_article(text, "a/x-0F1E2D.txt").id == stable_id("Is it true?", None)
    dated = "Is it true?\nChecked on May 2, 2025\nExecutive Summary\nNo.\n"
    assert parse_article(dated, "x.txt").id == stable_id("Is it true?", "2025-05-02") != stable_id("Is it true?", None)


def test_date_line_before_the_title_and_bad_dates_are_text():
    c = parse_article("Checked on July 4, 2025\nIs it true?\nExecutive Summary\nNo.\n", "x.txt")
    assert (c.title, c.checked_on) == ("Is it true?", "2025-07-04")
    c = parse_article("Is it true?\nChecked on February 30, 2025\nExecutive Summary\nNo.\n", "x.txt")
    assert (c.checked_on, c.summary) == (None, "Checked on February 30, 2025\nNo.")


# --- the seed -----------------------------------------------------------------------------------


def test_seed_field_by_field(shared_dir):
    path = shared_dir / "seeds" / "000_1f06302fe90c9b35.txt"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    checks, problems = read_file(path)
    assert problems == [] and len(checks) == 1
    c = checks[0]
    title = (
        "Are there documented cases of innocent users receiving child sexual abuse material (CSAM) via dark web "
        "links and facing charges?"
    )
    assert c.title == title
    assert c.checked_on == "2025-11-01"
    assert c.id == stable_id(title, "2025-11-01") == "6ad98e8f615d"
    assert (c.category, c.url, c.path) == (None, None, str(path))
    assert c.summary == (
        "Documented cases of genuinely innocent users charged solely for receiving CSAM after unintentionally "
        "encountering dark-web links are not clearly established in the provided material; existing documents "
        "emphasize prosecutions of active distributors and the legal focus on intent and knowledge. The sources "
        "together show law enforcement successes against dark-web operators, academic and technical analyses of "
        "CSAM ecosystems, and legal discussions showing that intent and demonstrated receipt remain central to "
        "prosecution, while also raising concerns about mistaken reports from automated signals [1] [2] [3]."
    )
    assert [s.heading for s in c.sections] == [
        "Why prosecutors focus on distributors, not accidental recipients \u2014 what the enforcement record shows",
        "Technical and research evidence that shows how users can be mistakenly identified",
        "The legal frame: receipt, intent, and defenses that matter in court",
        "Gaps in public reporting: why documented cases of innocent users charged are rare in these sources",
        "What these sources together imply for policy, providers, and individuals at risk",
    ]
    starts_ends = [
        ("The enforcement accounts in the material describe", "which shapes public perception and prosecutorial practice."),
        ("Technical analyses and research into CSAM networks", "even if criminal charges are less common [1]."),
        ("Legal sources emphasize that federal statutes", "defendants often need counsel to challenge investigative narratives."),
        ("The collected sources show robust documentation", "leads to charges or convictions [2] [4] [5] [6]."),
        ("The combined evidence points to two policy tensions", "limit wrongful consequences for non-culpable users."),
    ]  # fmt: skip
    for s, (start, end) in zip(c.sections, starts_ends, strict=True):
        assert s.text.startswith(start) and s.text.endswith(end) and "\n" not in s.text, s.heading
    assert "multi-defendant operations" in c.sections[0].text  # U+2011 mapped to "-"
    assert "\u2011" not in json.dumps(c.to_dict(), ensure_ascii=False)
    assert "signals\u2014such as NCMEC alerts\u2014leading" in c.sections[1].text  # em dash kept
    assert list(c.questions) == [
        "Have any U.S. cases charged people for merely opening links to CSAM received via the dark web?",
        "What defenses succeeded when defendants claimed they unknowingly received CSAM links (e.g., "
        "2016\u20132024 cases)?",
        "How do prosecutors prove intent or knowledge in CSAM receipt or possession charges?",
        "What guidance do courts use to differentiate passive receipt from possession of CSAM?",
        "Are there documented cases where metadata or server logs proved automatic delivery of CSAM to an "
        "innocent user?",
    ]
    for text in every_text(c.to_dict()):
        assert not any(b in text for b in BOILERPLATE), text


# --- encodings -----------------------------------------------------------------------------------

CP1252 = (
    b"Fact check: Is caf\xe9 au lait \x93healthy\x94?\r\n"
    b"Executive Summary\r\n"
    b"It depends \x96 mostly on the sugar [1].\r\n"
    b"Want to dive deeper?\r\n"
    b"Does d\xe9caf coffee still contain caffeine?\r\n"
)
CP1252_WARNING = "not UTF-8 (first bad byte on line 1); read as Windows-1252, re-save it as UTF-8"


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_windows_1252_is_read_with_a_warning(tmp_path, bom):
    path = write(tmp_path / "cafe.txt", bom + CP1252)
    checks, problems = read_file(path)
    assert problems == [Problem(str(path), CP1252_WARNING, skipped=False)]
    assert str(problems[0]) == f"warning: {path}: {CP1252_WARNING}"
    c = checks[0]
    assert c.title == "Is caf\u00e9 au lait \u201chealthy\u201d?"
    assert c.summary == "It depends \u2013 mostly on the sugar [1]."
    assert c.questions == ("Does d\u00e9caf coffee still contain caffeine?",)
    arch = read_archive(tmp_path)
    assert (len(arch.checks), arch.summary()) == (1, "read 1 file (1 check), skipped 0, 1 warning")


def test_bad_byte_line_number_in_the_warning(tmp_path):
    path = write(tmp_path / "x.txt", b"Is it true?\nExecutive Summary\nCaf\xe9.\n")
    assert read_file(path)[1][0].message.startswith("not UTF-8 (first bad byte on line 3);")


def test_utf16_with_bom_is_read_with_a_warning(tmp_path):
    text = (FIXTURES / "health/cafe-deshidrata-f0a1b2.txt").read_text("utf-8")
    path = write(tmp_path / "health/cafe-deshidrata-f0a1b2.txt", text.encode("utf-16"))
    checks, problems = read_file(path)
    assert problems == [Problem(str(path), "UTF-16 text; read it, but re-save it as UTF-8", skipped=False)]
    assert without_path(checks[0].to_dict()) == EXPECTED["health/cafe-deshidrata-f0a1b2.txt"]


# --- bad input -----------------------------------------------------------------------------------

EMPTY = "empty file; delete it or save the article's text into it"
BINARY = "binary data, not a saved article; remove it from the archive"
HTML = "an HTML page, not a saved article; save the page as plain text instead"
NO_TITLE = (
    "no recognisable title (the first line after the banner should be the checked question or claim); "
    "add it as the first line"
)
LONG_TITLE = (
    "no recognisable title (the first line is 1,499 characters long, a paragraph rather than a question or "
    "claim); put the checked question or claim on the first line"
)

BAD_FILES = [
    ("empty.txt", b"", EMPTY, None),
    ("blank.txt", b" \r\n\t\n\n", EMPTY, None),
    ("bom-only.txt", b"\xef\xbb\xbf\r\n", EMPTY, None),
    ("nbsp-only.txt", "\u00a0\u3000\n".encode(), EMPTY, None),
    ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00", BINARY, None),
    ("zip.txt", b"PK\x03\x04\x14\x00\x00\x00\x08\x00", BINARY, None),
    ("controls.txt", bytes(range(1, 9)) * 20 + b"Is it true?\n", BINARY, None),
    ("page.txt", b"<!DOCTYPE html>\n<html><head><title>Fact check</title></head><body>x</body></html>", HTML, None),
    ("lower.txt", b"\n  <html lang='en'><body><p>Fact check: Is it?</p></body></html>", HTML, None),
    (
        "saved.txt",
        b"\xef\xbb\xbf<!-- saved from url=(0044)https://factually.co/fact-checks/x-abc123 -->\r\n<html>\r\n<p>x",
        HTML,
        None,
    ),
    ("body.txt", b"<body>\n<p>Fact check: Is it true?</p>\n</body>\n", HTML, None),
    ("banner-only.txt", (BANNER + "Loading...Goal: $500\nLoading...\n").encode(), NO_TITLE, None),
    ("summary-first.txt", b"Executive Summary\nRayleigh scattering.\n", NO_TITLE, 1),
    ("dive-first.txt", b"\n\nWant to dive deeper?\nWhy?\n", NO_TITLE, 3),
    ("prefix-only.txt", (BANNER + "Fact check: \nExecutive Summary\nText.\n").encode(), NO_TITLE, 3),
    ("paragraph.txt", b"Words " * 250 + b"\nWant to dive deeper?\n", LONG_TITLE, 1),
]


@pytest.mark.parametrize(("name", "data", "message", "line"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_file_is_refused_with_one_clear_line(tmp_path, name, data, message, line):
    path = write(tmp_path / name, data)
    with pytest.raises(ArchiveError) as info:
        read_file(path)
    where = f"{path}:{line}" if line else str(path)
    assert str(info.value) == f"{where}: {message}"
    assert "\n" not in str(info.value)
    arch = read_archive(tmp_path)
    assert arch.checks == [] and arch.problems == [Problem(str(path), message, line)]


def test_over_the_size_limit(tmp_path, monkeypatch):
    monkeypatch.setitem(readers_mod.READERS, ".txt", replace(readers_mod.READERS[".txt"], max_bytes=100))
    path = write(tmp_path / "big.txt", "Is it true?\n" + "x" * 138)
    with pytest.raises(ArchiveError) as info:
        read_file(path)
    assert str(info.value) == f"{path}: over the size limit (150 bytes, limit 100 bytes); split it or remove it"
    write(tmp_path / "small.txt", "Is it small?\n")
    arch = read_archive(tmp_path)
    assert [c.title for c in arch.checks] == ["Is it small?"]
    assert arch.summary() == "read 1 file (1 check), skipped 1 (1 over the size limit)"


def test_real_limits_are_megabytes():
    assert readers_mod.READERS[".txt"].max_bytes == 5_000_000 and readers_mod.MAX_LINE_CHARS == 100_000
    assert archive_mod._size(readers_mod.READERS[".txt"].max_bytes) == "5.0 MB"
    assert archive_mod._size(readers_mod.READERS[".jsonl"].max_bytes) == "2.0 GB"


def test_line_too_long(tmp_path, monkeypatch):
    monkeypatch.setattr(readers_mod, "MAX_LINE_CHARS", 50)
    path = write(tmp_path / "long.txt", "Is it true?\nExecutive Summary\n" + "y" * 60 + "\n")
    with pytest.raises(ArchiveError) as info:
        read_file(path)
    assert str(info.value) == (
        f"{path}:3: line too long (60 characters, limit 50); a saved article has one paragraph per line: "
        "re-save it with its line breaks"
    )


def test_duplicate_ids_across_two_files(tmp_path):
    sleep = (FIXTURES / "health/eight-hours-sleep-b1a2c3.txt").read_text("utf-8")
    first = write(tmp_path / "a/sleep-b1a2c3.txt", sleep)
    second = write(tmp_path / "b/copy of sleep-b1a2c3.txt", sleep.replace("eight hours", "8 hours"))
    arch = read_archive(tmp_path)
    assert [c.path for c in arch.checks] == [str(first)]
    assert arch.problems == [
        Problem(str(second), f"duplicate id (b1a2c3, also in {first}); give one of them another id or remove the copy")
    ]
    assert arch.summary() == "read 2 files (1 check), skipped 1 (1 duplicate id)"


def test_jsonl_bad_lines_reported_with_line_numbers_others_kept(tmp_path):
    lines = [
        json.dumps({"title": "Is tea healthy?", "id": "t1"}),
        '{"title": "broken"',
        json.dumps({"summary": "no title here"}),
        "1" * 5000,
        "[" * 100_000 + "]" * 100_000,
        '["a list"]',
        json.dumps({"title": "Is it dated?", "checked_on": "1 May 2025"}),
        "",
        json.dumps({"title": "Typed?", "questions": "one string"}),
        json.dumps({"title": "Is coffee healthy?", "id": "t2"}),
        json.dumps({"title": "Is tea healthy again?", "id": "t1"}),
    ]
    path = write(tmp_path / "export.jsonl", "\n".join(lines) + "\n")
    checks, problems = read_file(path)
    assert [(c.id, c.path) for c in checks] == [("t1", f"{path}:1"), ("t2", f"{path}:10"), ("t1", f"{path}:11")]
    expected = [
        (2, "invalid JSON (Expecting ',' delimiter); fix or remove the line"),
        (3, 'no "title" string; every check needs its title'),
        (4, "invalid JSON (a number with too many digits); fix or remove the line"),
        (5, "invalid JSON (nested too deeply); fix or remove the line"),
        (6, "not a JSON object; each line must be one {...} check"),
        (7, "\"checked_on\" is not an ISO date (got '1 May 2025'); write it as YYYY-MM-DD"),
        (9, '"questions" must be a list of strings'),
    ]
    assert problems == [Problem(str(path), m, no) for no, m in expected]
    assert str(problems[0]) == f"skipped: {path}:2: invalid JSON (Expecting ',' delimiter); fix or remove the line"
    arch = read_archive(tmp_path)
    assert [c.id for c in arch.checks] == ["t1", "t2"]
    assert arch.problems[-1] == Problem(
        f"{path}:11", f"duplicate id (t1, also in {path}:1); give one of them another id or remove the copy"
    )
    assert arch.summary() == (
        'read 1 file (2 checks), skipped 8 (3 invalid JSON; 1 "checked_on" is not an ISO date; '
        '1 "questions" must be a list of strings; 1 duplicate id; 1 no "title" string; 1 not a JSON object)'
    )


def test_upper_case_jsonl_suffix_is_read_as_json_lines(tmp_path):
    path = write(tmp_path / "EXPORT.JSONL", json.dumps({"title": "Is it?", "id": "x1"}) + "\n")
    assert [c.id for c in read_file(path)[0]] == ["x1"]
    assert [c.id for c in read_archive(tmp_path).checks] == ["x1"]


def test_reading_a_folder_never_stops_at_a_bad_file(tmp_path):
    for name in ("health/eight-hours-sleep-b1a2c3.txt", "md-link-title.txt"):
        write(tmp_path / name, (FIXTURES / name).read_bytes())
    write(tmp_path / "a-empty.txt", b"")
    write(tmp_path / "b-binary.txt", b"\x00\x01\x02")
    write(tmp_path / "c-page.txt", b"<!doctype html><html></html>")
    write(tmp_path / "d-no-title.txt", b"Executive Summary\nx\n")
    write(tmp_path / "e-cafe.txt", CP1252)
    write(tmp_path / "health/f-copy-b1a2c3.txt", (FIXTURES / "health/eight-hours-sleep-b1a2c3.txt").read_bytes())
    write(tmp_path / "g.jsonl", '{"title": "Is it?", "id": "g1"}\nnot json\n')
    write(tmp_path / "notes.md", "# notes\n")
    write(tmp_path / ".DS_Store", b"\x00\x00")
    write(tmp_path / ".suggest-index/manifest.json", "{}")
    arch = read_archive(tmp_path)
    assert [Path(c.path.split(":")[0]).name for c in arch.checks] == [
        "e-cafe.txt", "g.jsonl", "md-link-title.txt", "eight-hours-sleep-b1a2c3.txt",
    ]  # fmt: skip
    assert [(Path(p.path).name, p.reason, p.skipped) for p in arch.problems] == [
        ("a-empty.txt", "empty file", True),
        ("b-binary.txt", "binary data, not a saved article", True),
        ("c-page.txt", "an HTML page, not a saved article", True),
        ("d-no-title.txt", "no recognisable title", True),
        ("e-cafe.txt", "not UTF-8", False),
        ("g.jsonl", "invalid JSON", True),
        ("f-copy-b1a2c3.txt", "duplicate id", True),
    ]
    assert arch.ignored == [str(tmp_path / "notes.md")]
    assert arch.summary() == (
        "read 5 files (4 checks), skipped 6 (1 an HTML page, not a saved article; 1 binary data, not a saved "
        "article; 1 duplicate id; 1 empty file; 1 invalid JSON; 1 no recognisable title), 1 warning, "
        "ignored 1 other file (not .txt or .jsonl), passed over 2 hidden paths"
    )
    assert sorted(arch.hidden) == [str(tmp_path / ".DS_Store"), str(tmp_path / ".suggest-index")]


def test_missing_archive_is_a_named_error(tmp_path):
    with pytest.raises(ArchiveError) as info:
        read_archive(tmp_path / "nope")
    assert str(info.value) == (
        f"{tmp_path / 'nope'}: no such archive folder or file; pass --archive DIR or set SUGGEST_ARCHIVE"
    )


def test_fifo_symlink_loop_broken_link_and_device_are_reported(tmp_path):
    os.mkfifo(tmp_path / "pipe.txt")
    (tmp_path / "loop.txt").symlink_to(tmp_path / "loop.txt")
    (tmp_path / "broken.txt").symlink_to(tmp_path / "gone.txt")
    (tmp_path / "zero.txt").symlink_to("/dev/zero")
    (tmp_path / "dirloop").symlink_to(tmp_path)
    write(tmp_path / "ok-abc123.txt", "Is it fine?\n")
    arch = read_archive(tmp_path)
    assert [c.id for c in arch.checks] == ["abc123"]
    assert sorted((Path(p.path).name, p.message) for p in arch.problems) == [
        ("broken.txt", "cannot read (broken link, or the file was removed while reading); remove the link or "
         "restore the file"),
        ("dirloop", "symlinked folder not followed; copy or move it into the archive"),
        ("loop.txt", "cannot read (symlink loop); remove the link"),
        ("pipe.txt", "not a regular file (a folder, pipe or device); remove it from the archive"),
        ("zero.txt", "symlink that leads out of the archive, not read; copy the file into the archive"),
    ]  # fmt: skip


def test_unreadable_file_and_folder_are_reported(tmp_path, read_as_user):
    path = write(tmp_path / "secret.txt", "Is it readable?\n")
    write(tmp_path / "closed/inside.txt", "Is it inside?\n")
    write(tmp_path / "open-abc123.txt", "Is it open?\n")
    path.chmod(0)
    (tmp_path / "closed").chmod(0)
    try:
        seen = read_as_user(tmp_path)
    finally:
        path.chmod(0o644)
        (tmp_path / "closed").chmod(0o755)
    assert seen == {
        "checks": [str(tmp_path / "open-abc123.txt")],
        "problems": [
            [str(tmp_path / "secret.txt"), "cannot read (Permission denied); check the file's permissions", None, True],
            [str(tmp_path / "closed"), "cannot list folder (Permission denied); check its permissions", None, True],
        ],
    }


def test_file_name_not_utf8_is_read_with_a_warning_and_records_stay_utf8(tmp_path):
    raw = os.fsencode(tmp_path) + b"/caf\xe9-abc123.txt"
    with open(raw, "wb") as f:
        f.write(b"Is it true?\n")
    shown = f"{tmp_path}/caf\ufffd-abc123.txt"
    arch = read_archive(tmp_path)
    assert [(c.id, c.path) for c in arch.checks] == [("abc123", shown)]
    assert arch.problems == [
        Problem(shown, "file name is not UTF-8 (shown with \ufffd); rename the file", skipped=False)
    ]
    json.dumps(arch.checks[0].to_dict(), ensure_ascii=False).encode("utf-8")  # no lone surrogate left


def test_file_name_with_a_newline_stays_one_line(tmp_path):
    path = write(tmp_path / "two\nlines.txt", b"")
    (problem,) = read_archive(tmp_path).problems
    assert problem.path == str(path)
    assert str(problem) == f"skipped: {tmp_path}/two\\x0alines.txt: {EMPTY}"


def test_jsonl_lone_surrogate_escapes_become_replacement_characters(tmp_path):
    path = write(tmp_path / "s.jsonl", '{"title": "Is \\ud800 it?", "questions": ["Why \\ud83d\\ude00?"]}\n')
    (c,), problems = read_file(path)
    assert problems == [] and (c.title, c.questions) == ("Is \ufffd it?", ("Why \U0001f600?",))


# --- the JSON Lines export schema ----------------------------------------------------------------


def test_jsonl_schema_every_field():
    obj = {
        "id": "a3f91c",
        "title": "Fact check: **Do vaccines cause autism?**",
        "checked_on": "2025-06-01",
        "summary": "Large studies found no link [1].\n\nThe 1998 paper was retracted [2].",
        "sections": [{"heading": "# The evidence", "text": "Cohorts of millions \u2011 no link [1]."}],
        "questions": ["What did the Danish cohort study find?", "  ", "Why was the paper retracted?"],
        "category": "Health",
        "url": "https://factually.co/fact-checks/health/vaccines-autism-a3f91c",
        "extra": "ignored",
    }
    assert check_from_json(obj, "x.jsonl", 4) == Check(
        id="a3f91c",
        title="Do vaccines cause autism?",
        checked_on="2025-06-01",
        summary="Large studies found no link [1].\nThe 1998 paper was retracted [2].",
        sections=(Section("The evidence", "Cohorts of millions - no link [1]."),),
        questions=("What did the Danish cohort study find?", "Why was the paper retracted?"),
        category="health",
        url="https://factually.co/fact-checks/health/vaccines-autism-a3f91c",
        path="x.jsonl:4",
    )


def test_jsonl_defaults_id_and_category_from_url_or_title_link():
    c = check_from_json({"title": "[Is it?](https://factually.co/fact-checks/sports/it-0b0b0b)"}, "x.jsonl", 1)
    assert (c.id, c.title, c.category, c.url) == ("0b0b0b", "Is it?", "sports", c.url)
    c = check_from_json({"title": "Is it?", "checked_on": None}, "x.jsonl")
    assert (c.id, c.category, c.url, c.path) == (stable_id("Is it?", None), None, None, "x.jsonl")


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"title": 3}, 'no "title" string; every check needs its title'),
        ({"title": "** **"}, 'no "title" string; every check needs its title'),
        ({"title": "t", "checked_on": 20250101}, '"checked_on" is not an ISO date (got 20250101); write it as YYYY-MM-DD'),
        ({"title": "t", "sections": {"heading": "h"}}, '"sections" must be a list of {"heading": string, "text": string}'),
        ({"title": "t", "sections": [{"heading": 1}]}, '"sections" must be a list of {"heading": string, "text": string}'),
        ({"title": "t", "sections": [{"text": 1}]}, "section text must be a string"),
        ({"title": "t", "summary": ["a"]}, '"summary" must be a string'),
        ({"title": "t", "questions": [1]}, '"questions" must be a list of strings'),
        ({"title": "t", "id": ""}, '"id" must be a non-empty string'),
        ({"title": "t", "id": True}, '"id" must be a non-empty string'),
        ({"title": "t", "url": 5}, '"url" must be a string'),
        ({"title": "t", "category": ["health"]}, '"category" must be a string'),
    ],
)  # fmt: skip
def test_jsonl_type_errors_name_the_field(obj, message):
    with pytest.raises(ArchiveError) as info:
        check_from_json(obj, "x.jsonl", 2)
    assert str(info.value) == f"x.jsonl:2: {message}"


def test_show_output_reads_back_as_jsonl(tmp_path, corpus_dir):
    """Every check's to_dict() (what `suggest show` prints) is a valid export line and reads back equal."""
    checks = read_archive(FIXTURES).checks + (read_archive(corpus_dir).checks if corpus_dir.is_dir() else [])
    path = write(tmp_path / "export.jsonl", "".join(json.dumps(without_path(c.to_dict())) + "\n" for c in checks))
    back, problems = read_file(path)
    assert problems == []
    assert [replace(b, path=c.path) for b, c in zip(back, checks, strict=True)] == checks


def test_to_dict_is_asdict_with_lists(corpus_dir):
    """`Check.to_dict` (built field by field) equals ``dataclasses.asdict`` with lists for the
    tuples, key order included; ``sections=False`` only empties the sections."""
    from dataclasses import asdict

    checks = read_archive(FIXTURES).checks + (read_archive(corpus_dir).checks if corpus_dir.is_dir() else [])
    for c in checks:
        want = asdict(c)
        want["sections"] = [asdict(s) for s in c.sections]
        want["questions"] = list(c.questions)
        assert list(c.to_dict().items()) == list(want.items())
        assert c.to_dict(sections=False) == {**want, "sections": []}
    assert any(c.sections for c in checks)


# --- suggest show ---------------------------------------------------------------------------------


def show(*args: str):
    return CliRunner().invoke(app, ["show", *args])


def test_show_one_file_prints_one_object():
    path = FIXTURES / "html-anchor-title.txt"
    r = show(str(path))
    assert (r.exit_code, r.stderr) == (0, "")
    assert json.loads(r.stdout) == {**EXPECTED["html-anchor-title.txt"], "path": str(path)}


def test_show_several_files_prints_a_list():
    paths = [FIXTURES / n for n in ("md-link-title.txt", "policy/daylight-saving-time-a9b8c7.txt")]
    r = show(*map(str, paths))
    assert (r.exit_code, r.stderr) == (0, "")
    assert [d["id"] for d in json.loads(r.stdout)] == ["d7e8f9", "a9b8c7"]


def test_show_bad_file_exits_1_with_one_line(tmp_path):
    path = write(tmp_path / "empty.txt", b"")
    r = show(str(path))
    assert (r.exit_code, r.stdout) == (1, "")
    assert r.stderr == f"skipped: {path}: {EMPTY}\n"
    assert "Traceback" not in r.output


def test_show_warns_on_windows_1252_and_still_prints(tmp_path):
    path = write(tmp_path / "cafe.txt", CP1252)
    r = show(str(path))
    assert r.exit_code == 0
    assert r.stderr == f"warning: {path}: {CP1252_WARNING}\n"
    assert json.loads(r.stdout)["title"] == "Is caf\u00e9 au lait \u201chealthy\u201d?"


def test_show_folder_reports_and_strict_exits_1(tmp_path):
    write(tmp_path / "good-abc123.txt", "Is it good?\n")
    write(tmp_path / "bad.txt", b"\x00")
    r = show(str(tmp_path))
    assert r.exit_code == 0
    assert [d["id"] for d in json.loads(r.stdout)] == ["abc123"]
    assert r.stderr == (
        f"skipped: {tmp_path / 'bad.txt'}: {BINARY}\n"
        f"{tmp_path}: read 1 file (1 check), skipped 1 (1 binary data, not a saved article)\n"
    )
    strict = show(str(tmp_path), "--strict")
    assert (strict.exit_code, strict.stdout, strict.stderr) == (1, r.stdout, r.stderr)
    assert show(str(FIXTURES), "--strict").exit_code == 0


def test_show_missing_file_is_one_line_exit_1(tmp_path):
    r = show(str(tmp_path / "nope.txt"))
    assert r.exit_code == 1 and r.stdout == ""
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1 and "nope.txt" in r.stderr


# --- Archive.summary ------------------------------------------------------------------------------


def test_summary_counts_reasons_not_messages():
    arch = Archive(
        "x",
        files_read=3,
        problems=[
            Problem("a.txt", "duplicate id (abc123, also in b.txt); give one of them another id"),
            Problem("c.txt", "duplicate id (def456, also in d.txt); give one of them another id"),
            Problem("e.txt", "over the size limit (6.0 MB, limit 5.0 MB); split it or remove it"),
            Problem("f.txt", "not UTF-8 (first bad byte on line 2); read as Windows-1252", skipped=False),
            Problem("g.txt", "not UTF-8 (first bad byte on line 9); read as Windows-1252", skipped=False),
        ],
        ignored=["a.md", "b.pdf"],
    )
    assert arch.summary() == (
        "read 3 files (0 checks), skipped 3 (2 duplicate id; 1 over the size limit), 2 warnings, "
        "ignored 2 other files (not .txt or .jsonl)"
    )


# --- properties: the reader never raises anything but our own errors -----------------------------

ARTICLE_LINES = st.one_of(
    st.sampled_from(
        [
            "Keep Factually independent",
            BANNER.splitlines()[1],
            "Loading...Goal: $500",
            "Loading...",
            "Fact check: Is it true?",
            "Checked on November 1, 2025",
            "Checked on Smarch 40, 0000",
            "Executive Summary",
            "Executive summary \u2014 Short.",
            "Executive Summary:",
            "1. A heading: with a paragraph that runs on for ten words or more here.",
            "**2. Summary of the results**",
            "# 3. Potential misinformation/bias in the original statement:",
            "  \u2022 Label: text [1] [2]",
            "- bullet",
            "Want to dive deeper?",
            "What next?",
            "[Link](https://factually.co/fact-checks/science/x-abc123)",
            '<a href="https://factually.co/fact-checks/x/y-abc123">T</a>',
            "https://factually.co/fact-checks/health/z-123abc",
            "<https://x>",
            "",
            " ",
        ]
    ),
    st.text(max_size=80),
)
ARTICLES = st.lists(ARTICLE_LINES, max_size=30).flatmap(
    lambda lines: st.sampled_from(["\n", "\r\n", "\r"]).map(lambda nl: nl.join(lines))
)


def check_invariants(c: Check) -> None:
    assert c.title and c.title == c.title.strip() and "\n" not in c.title
    assert c.id and all(q and "\n" not in q for q in c.questions)
    assert all("\n" not in s.heading for s in c.sections)
    assert json.loads(json.dumps(c.to_dict(), ensure_ascii=False).encode("utf-8")) == c.to_dict()


@given(st.one_of(st.text(), ARTICLES))
@settings(max_examples=600, deadline=None)
def test_parse_article_raises_only_archive_errors(text):
    try:
        c = parse_article(text, "x.txt")
    except SuggestError as exc:
        assert isinstance(exc, ArchiveError) and "\n" not in str(exc)
        return
    check_invariants(c)


@given(
    data=st.one_of(
        st.binary(max_size=3000),
        ARTICLES.map(lambda t: t.encode("utf-8")),
        ARTICLES.map(lambda t: t.encode("cp1252", errors="replace")),
        ARTICLES.map(lambda t: t.encode("utf-16")),
        st.tuples(ARTICLES, st.binary(max_size=40)).map(lambda tb: tb[0].encode("utf-8") + tb[1]),
    ),
    suffix=st.sampled_from([".txt", ".jsonl", ".TXT", ".md"]),
)
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_read_file_on_any_bytes_raises_only_our_errors(tmp_path, data, suffix):
    path = tmp_path / f"f{suffix}"
    path.write_bytes(data)
    try:
        checks, problems = read_file(path)
    except SuggestError as exc:
        assert isinstance(exc, ArchiveError) and "\n" not in str(exc) and str(exc).startswith(str(path))
        return
    for c in checks:
        check_invariants(c)
    for p in problems:
        assert p.path == str(path) and "\n" not in p.message


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["\ud800", "a\udce9", "2025-11-01", "https://factually.co/fact-checks/health/x-abc123"]),
    lambda kids: (
        st.lists(kids, max_size=3)
        | st.dictionaries(st.sampled_from(["heading", "text"]) | st.text(max_size=5), kids, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = ["id", "checked_on", "summary", "sections", "questions", "category", "url"]
JSON_CHECKS = st.one_of(
    st.fixed_dictionaries({"title": JSON_VALUES}, optional={k: JSON_VALUES for k in FIELDS}),
    st.fixed_dictionaries(
        {"title": st.text(min_size=1, max_size=40)},
        optional={
            "id": st.text(max_size=8),
            "checked_on": st.dates().map(str),
            "summary": st.text(max_size=100),
            "sections": st.lists(
                st.fixed_dictionaries({"heading": st.text(max_size=20), "text": st.text(max_size=60)})
            ),
            "questions": st.lists(st.text(max_size=40), max_size=5),
            "category": st.text(max_size=10),
            "url": st.text(max_size=30),
        },
    ),
)
JSONL_LINES = st.lists(st.one_of(st.text(max_size=200), JSON_CHECKS.map(json.dumps)), max_size=8)


@given(JSONL_LINES)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_jsonl_on_any_lines_raises_nothing(tmp_path, lines):
    path = tmp_path / "x.jsonl"
    path.write_text("\n".join(lines), "utf-8", errors="surrogatepass")
    try:
        checks, problems = read_file(path)
    except ArchiveError:
        return  # the whole file is unreadable (empty, binary...): one error for the file
    for c in checks:
        check_invariants(c)
    assert all(p.line is not None or not p.skipped for p in problems)


# --- the shipped corpus ----------------------------------------------------------------------------


def test_shipped_corpus_reads_clean_with_five_questions_each(corpus_dir):
    if not corpus_dir.is_dir():
        pytest.skip(f"{corpus_dir} is absent")
    arch = read_archive(corpus_dir)
    assert arch.problems == []
    assert len(arch.checks) >= 60
    assert [c.id for c in arch.checks if len(c.questions) != 5] == []
    assert all(q.endswith("?") for c in arch.checks for q in c.questions)
    assert all(len(c.id) == 6 and c.category == Path(c.path).parent.name for c in arch.checks)
    assert len({c.category for c in arch.checks}) >= 10
    assert {c.category for c in arch.checks} <= archive_mod.CATEGORIES
    for c in arch.checks:
        assert c.summary and c.sections, c.path
        for text in every_text(c.to_dict()):
            assert not any(b in text for b in BOILERPLATE), (c.path, text)


def test_jsonl_line_separators_inside_strings_do_not_split_records(tmp_path):
    """Only a newline ends a JSON Lines record; U+2028 and U+0085 inside strings are text."""
    p = tmp_path / "export.jsonl"
    first = json.dumps({"id": "x1", "title": "Is A\u2028B true?", "questions": ["Why\u0085 so?"]}, ensure_ascii=False)
    p.write_text(first + "\r\n" + json.dumps({"id": "x2", "title": "Second?"}) + "\n", "utf-8")
    arch = read_archive(p)
    assert arch.problems == []
    assert [c.id for c in arch.checks] == ["x1", "x2"]
    assert arch.checks[0].questions == ("Why so?",)


def test_reading_in_worker_processes_gives_the_same_archive(tmp_path, monkeypatch):
    """Files read by two processes: same checks, problems, order and counts as one process,
    for small files read in groups and for a few big ones read one per task."""
    import shutil

    shutil.copytree(FIXTURES, tmp_path / "arch")
    sleep = (FIXTURES / "health/eight-hours-sleep-b1a2c3.txt").read_text("utf-8")
    write(tmp_path / "arch/zz/copy-b1a2c3.txt", sleep)  # a duplicate id
    write(tmp_path / "arch/zz/bad.jsonl", json.dumps({"title": "Fine?", "id": "j1"}) + "\n{broken\n")
    (tmp_path / "arch/zz/binary.txt").write_bytes(b"\x00\x01\x02" * 50)
    (tmp_path / "arch/zz/notes.pdf").write_bytes(b"%PDF")
    one = read_archive(tmp_path / "arch")
    assert one.skipped and one.checks and one.ignored
    for task_bytes in (1, 2000, 10**9):  # a file per task, a few files, all in one
        monkeypatch.setattr(archive_mod, "_TASK_BYTES", task_bytes)
        two = read_archive(tmp_path / "arch", jobs=2)
        assert two == one


def test_spilled_read_keeps_slim_checks_and_finds_every_full_one(tmp_path, monkeypatch):
    import pickle
    import shutil

    shutil.copytree(FIXTURES, tmp_path / "arch")
    sleep = (FIXTURES / "health/eight-hours-sleep-b1a2c3.txt").read_text("utf-8")
    write(tmp_path / "arch/zz/copy-b1a2c3.txt", sleep)  # a duplicate id: not kept
    full = read_archive(tmp_path / "arch")
    monkeypatch.setattr(archive_mod, "_TASK_BYTES", 3000)
    for jobs, piece in ((1, 4096), (2, 4096), (1, 2), (2, 3)):
        monkeypatch.setattr(archive_mod, "SPILL_PIECE", piece)
        spill = tmp_path / f"spill{jobs}-{piece}"
        spill.mkdir()
        arch = read_archive(tmp_path / "arch", jobs=jobs, spill=spill)
        assert arch.problems == full.problems and arch.files_read == full.files_read
        assert arch.checks == [replace(c, sections=()) for c in full.checks]
        assert any(c.sections for c in full.checks)
        where = [archive_mod.spill_file(spill, g, i) for g, i in arch.sources]
        files = {path: pickle.loads(Path(path).read_bytes()) for path, _ in where}
        assert all(len(f) <= piece for f in files.values())
        assert len(files) > 1 and set(files) <= {str(p) for p in spill.iterdir()}
        assert [files[path][i] for path, i in where] == full.checks


def test_archive_error_survives_pickling():
    import pickle

    exc = pickle.loads(pickle.dumps(ArchiveError("a/b.txt", "empty file; remove it", 3)))
    assert (exc.path, exc.reason, exc.line, str(exc)) == (
        "a/b.txt",
        "empty file; remove it",
        3,
        "a/b.txt:3: empty file; remove it",
    )
