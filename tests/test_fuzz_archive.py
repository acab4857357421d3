"""Issue 5: a fuzzed archive of a few thousand hostile files is read without a crash, and every
candidate file (``.txt`` or ``.jsonl``) is either read into checks or reported with a reason.

The archive is generated from a fixed seed: random bytes, truncated and mutated real-looking
articles, giant lines, one 50 MB file, folders 50 levels deep, symlink loops, a FIFO, an
unreadable file and folder, names with spaces, newlines, non-ASCII and non-UTF-8 bytes.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from suggest.archive import read_archive
from suggest.cli import app
from suggest.readers import READERS, safe_text
from suggest.records import Problem

TESTS = Path(__file__).resolve().parent
ROOT_USER = os.geteuid() == 0
WORDS = (
    "evidence claim study vaccine tariff court ballot climate sleep coffee moon fire jury census "
    "report data rate percent research analysis policy health law election energy water"
).split()


def templates() -> list[bytes]:
    """Real-looking articles: the saved-article fixtures, and the shipped corpus when present."""
    files = sorted((TESTS / "fixtures").rglob("*.txt")) + sorted((TESTS.parent / "corpus").rglob("*.txt"))
    return [f.read_bytes() for f in files]


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def build(root: Path, rng: random.Random) -> dict[str, list[Path]]:
    """Write the fuzzed archive; returns the files written, by kind."""
    made: dict[str, list[Path]] = {}
    real = templates()
    names = ["a b", "café", "日本語 記事", "ñandú  two  spaces", "emoji 😀", "tab\there", "new\nline", "x"]

    def put(kind: str, rel: str, data: bytes) -> Path:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        made.setdefault(kind, []).append(path)
        return path

    def name(i: int, suffix: str = ".txt") -> str:
        hexid = f"{rng.getrandbits(24):06x}" if rng.random() < 0.7 else ""
        folder = rng.choice(["health", "politics", "Science", "misc", "2025/05", "a b/c d", "média"])
        return f"{folder}/{rng.choice(names)} {len(made)}.{i}{'-' + hexid if hexid else ''}{suffix}"

    for i in range(600):  # random bytes, some with NUL, some without
        put("random bytes", name(i), rng.randbytes(rng.randrange(0, 3000)))
    for i in range(150):  # random printable or high bytes, never NUL
        put("random text", name(i), bytes(rng.choice(range(1, 256)) for _ in range(rng.randrange(1, 400))))
    for i in range(600):  # real-looking articles cut anywhere, even inside a UTF-8 sequence
        t = rng.choice(real)
        put("truncated", name(i), t[: rng.randrange(0, len(t) + 1)])
    for i in range(300):  # real-looking articles with a few bytes changed
        t = bytearray(rng.choice(real))
        for _ in range(rng.randrange(1, 20)):
            t[rng.randrange(len(t))] = rng.randrange(256)
        put("mutated", name(i), bytes(t))
    for i in range(250):  # whole articles, CRLF or BOM or Windows-1252 now and then
        t = rng.choice(real)
        if rng.random() < 0.3:
            t = t.replace(b"\n", b"\r\n")
        if rng.random() < 0.3:
            t = b"\xef\xbb\xbf" + t
        if rng.random() < 0.2:
            t = t.decode("utf-8").encode("cp1252", errors="replace")
        put("whole", name(i), t)
    for i in range(120):  # JSON Lines exports with good and bad lines
        lines = []
        for _ in range(rng.randrange(0, 30)):
            r = rng.random()
            if r < 0.6:
                obj = {"title": sentence(rng, 6) + "?", "summary": sentence(rng, 30), "questions": [sentence(rng, 5)]}
                if rng.random() < 0.5:
                    obj["id"] = f"j{rng.getrandbits(40):010x}"
                lines.append(json.dumps(obj))
            elif r < 0.8:
                lines.append(json.dumps({"title": sentence(rng, 4)})[: rng.randrange(1, 30)])
            else:
                lines.append(rng.randbytes(rng.randrange(1, 60)).decode("latin-1"))
        put("jsonl", name(i, rng.choice([".jsonl", ".JSONL"])), "\n".join(lines).encode("utf-8"))
    for i in range(20):  # empty and blank files
        put("empty", name(i), rng.choice([b"", b"\n\n", b"   \r\n", b"\xef\xbb\xbf"]))
    for i in range(10):  # HTML pages saved by mistake
        put("html", name(i), b"<!DOCTYPE html>\n<html><body><p>" + sentence(rng, 10).encode() + b"</p></body></html>")
    for i in range(6):  # giant lines
        size = rng.choice([150_000, 400_000, 2_000_000])
        put("giant line", name(i), b"Is it true?\n" + sentence(rng, size // 7).encode()[:size] + b"\n")
    put("giant line", "giant/title-line.txt", ("x" * 50_000 + "\nWant to dive deeper?\nWhy?\n").encode())
    long_article = "Is it long?\n" + "".join(sentence(rng, 15) + "\n" for _ in range(30_000))
    put("long article", "giant/long-article-f00d01.txt", long_article.encode())
    with open(root / "giant" / "fifty-megabytes.txt", "wb") as f:  # one 50 MB file
        f.write(b"Is it huge?\n")
        f.write(os.urandom(1024) * (50 * 1024 - 1) + b"\n")
    made.setdefault("50 MB", []).append(root / "giant" / "fifty-megabytes.txt")
    deep = root / "deep"
    for level in range(50):  # folders 50 levels deep, an article every tenth level
        deep = deep / f"level {level}"
        if level % 10 == 9:
            put(
                "deep", str((deep / f"article-{level:06x}.txt").relative_to(root)), f"Is level {level} read?\n".encode()
            )
    links = root / "links"
    links.mkdir()
    (links / "self.txt").symlink_to("self.txt")  # a file symlink loop
    (links / "ping.txt").symlink_to("pong.txt")
    (links / "pong.txt").symlink_to("ping.txt")
    (links / "broken.txt").symlink_to("nowhere.txt")
    (links / "up").symlink_to("..")  # a folder symlink loop
    (links / "zero.txt").symlink_to("/dev/zero")
    (root.parent / "outside-0c0c0c.txt").write_bytes(b"Is a file linked from outside read?\n")
    (links / "out-link.txt").symlink_to(root.parent / "outside-0c0c0c.txt")  # reported, never read
    (root / "inside-0d0d0d.txt").write_bytes(b"Is a file linked from inside read?\n")
    (links / "good-link.txt").symlink_to(root / "inside-0d0d0d.txt")
    made["links"] = [links / n for n in ("self.txt", "ping.txt", "pong.txt", "broken.txt", "zero.txt", "out-link.txt", "good-link.txt")]
    os.mkfifo(root / "links" / "pipe.txt")
    made["links"].append(root / "links" / "pipe.txt")
    put("unreadable", "locked/secret-0badf0.txt", rng.choice(real)).chmod(0)
    hidden = root / "locked" / "closed folder"
    hidden.mkdir()
    put("unreadable folder", "locked/closed folder/inside-0badf1.txt", rng.choice(real))
    hidden.chmod(0)
    raw_name = os.fsencode(root) + b"/non-utf8 caf\xe9-0e0e0e.txt"  # a name that is not UTF-8
    with open(raw_name, "wb") as f:
        f.write(b"Is a name that is not UTF-8 read?\n")
    made["non-UTF-8 name"] = [Path(os.fsdecode(raw_name))]
    (root / "a folder.txt").mkdir()  # a folder named like an article
    put("ignored", "notes/readme.md", b"# notes\n")
    put("ignored", "notes/scan.pdf", b"%PDF-1.4")
    put("hidden", ".suggest-index/manifest.json", b"{}")
    put("hidden", "health/.DS_Store", b"\x00\x00\x00\x01Bud1")
    return made


def candidates(root: Path) -> set[str]:
    """Every file the reader must read or report, found independently of the reader."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and not os.path.islink(os.path.join(dirpath, d))]
        for f in filenames:
            if not f.startswith(".") and os.path.splitext(f)[1].lower() in READERS:
                out.add(safe_text(os.path.join(dirpath, f)))
    return out


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz") / "archive"
    root.mkdir()
    made = build(root, random.Random(20251125))
    yield root, made
    for p in (root / "locked" / "closed folder", root / "locked" / "secret-0badf0.txt"):
        p.chmod(0o755)


def test_fuzzed_archive_every_file_read_or_reported(fuzzed):
    root, made = fuzzed
    arch = read_archive(root)
    files = candidates(root)
    assert len(files) > 2000

    def source(check_path: str) -> str:
        return check_path if check_path in files else check_path.rsplit(":", 1)[0]  # JSON Lines: path:line

    read = {source(c.path) for c in arch.checks}
    folders = {p.path for p in arch.problems if p.reason in ("symlinked folder not followed", "cannot list folder")}

    def bad_line(p: Problem) -> bool:  # one line of a JSON Lines file, the others kept
        return p.line is not None and p.path.lower().endswith(".jsonl")

    refused = {p.path for p in arch.problems if p.skipped and p.reason != "duplicate id" and not bad_line(p)}
    refused -= folders
    duplicates = {source(p.path) for p in arch.problems if p.reason == "duplicate id"}
    bad_lines = {p.path for p in arch.problems if bad_line(p)}
    if not ROOT_USER:
        # The unreadable folder's file is not even listed: the folder is reported instead.
        files.discard(safe_text(str(root / "locked" / "closed folder" / "inside-0badf1.txt")))
    # Every candidate is accounted for: read (possibly as a skipped duplicate, or a JSON Lines file
    # whose every line was bad) or refused with a reason, and never both.
    accounted = read | refused | duplicates | bad_lines
    assert files - accounted == set()
    assert read.isdisjoint(refused)
    assert (accounted - files) == set()
    assert folders == {str(root / "links" / "up")} | (set() if ROOT_USER else {str(root / "locked" / "closed folder")})
    assert arch.files_read == len(files) - len(refused)
    # Every problem names its file and says what is wrong, on one line.
    assert all(p.message and "\n" not in str(p) for p in arch.problems)
    reasons = Counter(p.reason for p in arch.problems)
    print(f"\n{len(files)} candidate files: {arch.summary()}\nreasons: {dict(reasons)}")

    by_path = {p.path: p for p in arch.problems}
    fifty = str(root / "giant" / "fifty-megabytes.txt")
    assert by_path[fifty].message == "over the size limit (52.4 MB, limit 5.0 MB); split it or remove it"
    assert by_path[str(root / "links" / "self.txt")].message == "cannot read (symlink loop); remove the link"
    assert by_path[str(root / "links" / "ping.txt")].reason == "cannot read"
    assert by_path[str(root / "links" / "pipe.txt")].reason == "not a regular file"
    assert by_path[str(root / "links" / "zero.txt")].reason == "symlink that leads out of the archive, not read"
    assert by_path[str(root / "links" / "out-link.txt")].reason == "symlink that leads out of the archive, not read"
    assert by_path[str(root / "giant" / "title-line.txt")].reason == "no recognisable title"
    for p in made["giant line"][:-1]:
        assert by_path[str(p)].reason == "line too long"
    for kind in ("empty", "html"):
        assert all(by_path[str(p)].skipped for p in made[kind]), kind
    # Whatever else happens, real articles in odd places are read.
    assert {c.path for c in arch.checks} >= {
        str(root / "giant" / "long-article-f00d01.txt"),
        *(str(p) for p in made["deep"]),
        safe_text(str(made["non-UTF-8 name"][0])),
        str(root / "links" / "good-link.txt"),
    }
    assert reasons["binary data, not a saved article"] > 300
    assert arch.ignored == [str(root / "notes" / "readme.md"), str(root / "notes" / "scan.pdf")]


def test_unreadable_file_and_folder_are_reported(fuzzed, read_as_user):
    """Permissions apply only without root's capabilities: read in a subprocess without them."""
    root, _ = fuzzed
    seen = read_as_user(root)
    by_path = {path: message for path, message, _, _ in seen["problems"]}
    assert by_path[str(root / "locked" / "secret-0badf0.txt")] == (
        "cannot read (Permission denied); check the file's permissions"
    )
    assert (
        by_path[str(root / "locked" / "closed folder")]
        == "cannot list folder (Permission denied); check its permissions"
    )
    assert str(root / "locked" / "closed folder" / "inside-0badf1.txt") not in seen["checks"]


def test_fuzzed_archive_through_the_cli(fuzzed):
    root, _ = fuzzed
    r = CliRunner().invoke(app, ["show", str(root)])
    assert r.exit_code == 0, r.stderr[-2000:]
    assert "Traceback" not in r.output
    last = r.stderr.splitlines()[-1]
    assert last.startswith(f"{root}: read ") and ", skipped " in last
    assert len(json.loads(r.stdout)) == len(read_archive(root).checks)
    strict = CliRunner().invoke(app, ["show", "--strict", str(root)])
    assert strict.exit_code == 1 and "Traceback" not in strict.output
