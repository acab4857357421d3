"""Benchmark archives in our JSON Lines schema: the real PolitiFact checks, or N synthetic ones.

    python bench/make_archive.py politifact [--out bench/scratch/politifact.jsonl]
    python bench/make_archive.py synthetic --n 100000 [--seed 0] [--out bench/scratch/synth-100000]

``politifact``: the 19,250 PolitiFact fact-checks of CheckThat! 2021 task 2B, one check per line,
their claims as questions: ``{"id", "title", "summary": claim, "sections": [{"heading": "",
"text": article}], "questions": [claim], "checked_on", "url"}``. ``checked_on`` is the
publication date in the PolitiFact URL (``/factchecks/2019/oct/30/...``), else the date the
claim was stated, else null.

``synthetic``: N checks made from real PolitiFact text, so term statistics stay realistic.
Check i is a function of (seed, i) alone: the first 100k checks of a 1M archive are the 100k
archive. Each check starts from a random real check ("base") and

* keeps the base's paragraphs in order, dropping some and swapping some for paragraphs of a
  second random check, and a few sentences for sentences of any check (topics stay coherent,
  as in a real article, while no body is a copy);
* renames people and places consistently through title, claim and body: a proper name becomes
  another real name of similar frequency, or now and then a new name spliced from two real ones
  (the vocabulary keeps growing with N, as a real archive's does with new names);
* swaps some ordinary words of the title and claim (and a few of the body) for words of the
  same corpus-frequency band, which keeps the Zipf shape of the vocabulary.

It writes a folder of JSON Lines shards (``part-00000.jsonl``, ...; one file may hold at most
2 GB in an archive), streaming: memory holds the real corpus and one check, whatever N is.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import random
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SHARED = BENCH.parents[1] / "shared"
POLITIFACT = SHARED / "data" / "checkthat" / "2021-2b-en" / "politifact_vclaims.jsonl.gz"
WORK = BENCH / "scratch"
DEFAULT_ARCHIVE = WORK / "politifact.jsonl"

_MONTHS = {m: i for i, m in enumerate(
    "jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}
_URL_DATE = re.compile(r"/factchecks/(\d{4})/([a-z]{3})[a-z]*/(\d{1,2})/")
_STATED = re.compile(r"([A-Z][a-z]+ \d{1,2}, \d{4})")
_WORD = re.compile(r"[A-Za-z][a-z]+(?:'[a-z]+)?")
_NAME = re.compile(r"\b[A-Z][a-z]{2,}\b")
# Capitalised but not names: never renamed.
_NOT_NAMES = frozenset(
    "January February March April May June July August September October November December "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
)
_SENTENCE = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"\u201d]))\s+(?=[A-Z\"\u201c])")


def require_data() -> None:
    if not POLITIFACT.is_file():
        sys.exit(f"error: {POLITIFACT} not found; the benchmarks need ../shared/data/checkthat next to the repo")


def iter_politifact():
    with gzip.open(POLITIFACT, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def checked_on(obj: dict) -> str | None:
    """Publication date from the URL, else the 'stated on' date, as ISO; None if neither parses."""
    m = _URL_DATE.search(obj.get("url") or "")
    if m and m.group(2) in _MONTHS:
        try:
            return date(int(m.group(1)), _MONTHS[m.group(2)], int(m.group(3))).isoformat()
        except ValueError:
            pass
    m = _STATED.search(obj.get("date") or "")
    if m:
        try:
            return datetime.strptime(m.group(1), "%B %d, %Y").date().isoformat()
        except ValueError:
            pass
    return None


def politifact_check(obj: dict) -> dict:
    claim = obj["vclaim"].strip()
    return {
        "id": obj["vclaim_id"],
        "title": obj["title"].strip() or claim,
        "summary": claim,
        "sections": [{"heading": "", "text": obj["text"]}],
        "questions": [claim],
        "checked_on": checked_on(obj),
        "url": obj.get("url"),
    }


def write_politifact(out: Path) -> int:
    """Write the 19,250 real checks to ``out`` atomically; return the count."""
    require_data()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    n = 0
    with tmp.open("w", encoding="utf-8") as f:
        for obj in iter_politifact():
            f.write(json.dumps(politifact_check(obj)) + "\n")
            n += 1
    os.replace(tmp, out)
    return n


def ensure_politifact(out: Path = DEFAULT_ARCHIVE) -> Path:
    """The PolitiFact archive, written once (later calls reuse the file)."""
    if not out.is_file():
        write_politifact(out)
    return out


# -- synthetic ---------------------------------------------------------------------------------

@dataclass
class Real:
    """The real corpus the synthetic checks are sampled from."""

    titles: list[str]
    claims: list[str]
    paragraphs: list[list[str]]
    dates: list[int]  # ordinal day or 0
    band_words: list[list[str]]  # ordinary words by log2-frequency band
    band_of: dict[str, int]
    name_bands: list[list[str]]  # proper names by log2-frequency band
    name_band_of: dict[str, int]


def load_real() -> Real:
    require_data()
    titles, claims, paragraphs, dates = [], [], [], []
    lower: Counter[str] = Counter()
    capital: Counter[str] = Counter()
    for obj in iter_politifact():
        titles.append(obj["title"].strip() or obj["vclaim"].strip())
        claims.append(obj["vclaim"].strip())
        paras = [p.strip() for p in obj["text"].split("\n") if p.strip()]
        paragraphs.append(paras)
        d = checked_on(obj)
        dates.append(date.fromisoformat(d).toordinal() if d else 0)
        for text in (titles[-1], claims[-1], *paras):
            for w in _WORD.findall(text):
                (capital if w[0].isupper() else lower)[w] += 1
    # A proper name is a capitalised word seen capitalised at least 9 times in 10.
    names = {w: c for w, c in capital.items()
             if len(w) > 2 and w not in _NOT_NAMES and c >= 9 * lower.get(w.lower(), 0)}
    # The 300 most frequent lower-case words are function words: never swapped.
    common = {w for w, _ in lower.most_common(300)}
    ordinary = {w: c for w, c in lower.items() if w not in common and len(w) > 3}

    def bands(counts: dict[str, int]) -> tuple[list[list[str]], dict[str, int]]:
        band_of = {w: int(math.log2(c)) for w, c in counts.items()}
        out: list[list[str]] = [[] for _ in range(max(band_of.values(), default=0) + 1)]
        for w in sorted(band_of):
            out[band_of[w]].append(w)
        return out, band_of

    bw, bo = bands(ordinary)
    nb, nbo = bands(names)
    return Real(titles, claims, paragraphs, dates, bw, bo, nb, nbo)


class Maker:
    """Makes synthetic check ``i``; the same (seed, i) always gives the same check."""

    def __init__(self, real: Real, seed: int, new_name_rate: float = 0.15,
                 name_swap: float = 0.6, word_swap: float = 0.25, body_word_swap: float = 0.03) -> None:
        self.r = real
        self.seed = seed
        self.new_name_rate = new_name_rate
        self.name_swap = name_swap
        self.word_swap = word_swap
        self.body_word_swap = body_word_swap
        self.n = len(real.titles)
        self.lo = min(d for d in real.dates if d)
        self.hi = max(real.dates)

    def _name_for(self, rng: random.Random, name: str) -> str:
        r = self.r
        if rng.random() < self.new_name_rate:
            # A new name spliced from two real ones: "Vandergriff" + "Kolb" -> "Vandekolb".
            other = rng.choice(r.name_bands[rng.randrange(len(r.name_bands))] or [name])
            cut_a = max(2, len(name) // 2)
            cut_b = min(len(other) - 1, max(1, len(other) // 2))
            return name[:cut_a] + other[cut_b:].lower()
        band = r.name_bands[r.name_band_of[name]]
        return rng.choice(band)

    def _swap_words(self, rng: random.Random, text: str, rate: float, names: dict[str, str]) -> str:
        r = self.r

        def sub(m: re.Match) -> str:
            w = m.group(0)
            if w in names:
                return names[w]
            if rate and w in r.band_of and rng.random() < rate:
                return rng.choice(r.band_words[r.band_of[w]])
            return w

        return _WORD.sub(sub, text)

    def check(self, i: int) -> dict:
        r = self.r
        rng = random.Random(f"{self.seed}:{i}")
        base = rng.randrange(self.n)
        other = rng.randrange(self.n)
        # Consistent renaming of the base's names (title and claim names are always considered).
        names: dict[str, str] = {}
        seen = _NAME.findall(r.titles[base] + " " + r.claims[base])
        for para in r.paragraphs[base][:6]:
            seen += _NAME.findall(para)
        for name in sorted(set(seen)):
            if name in r.name_band_of and rng.random() < self.name_swap:
                names[name] = self._name_for(rng, name)
        title = self._swap_words(rng, r.titles[base], self.word_swap, names)
        claim = self._swap_words(rng, r.claims[base], self.word_swap, names)
        body = []
        mix = r.paragraphs[other]
        for k, para in enumerate(r.paragraphs[base]):
            u = rng.random()
            if u < 0.15:
                continue
            if u < 0.40 and mix:
                para = mix[min(k, len(mix) - 1)]
            if rng.random() < 0.2:
                sents = _SENTENCE.split(para)
                donor = r.paragraphs[rng.randrange(self.n)]
                if donor:
                    sents[rng.randrange(len(sents))] = rng.choice(_SENTENCE.split(rng.choice(donor)))
                para = " ".join(sents)
            body.append(self._swap_words(rng, para, self.body_word_swap, names))
        if not body:
            body = [claim]
        day = r.dates[base] or rng.randint(self.lo, self.hi)
        day = min(self.hi, max(self.lo, day + rng.randint(-180, 180)))
        return {
            "id": f"syn-{i:07d}",
            "title": title,
            "summary": claim,
            "sections": [{"heading": "", "text": "\n".join(body)}],
            "questions": [claim],
            "checked_on": date.fromordinal(day).isoformat(),
            "url": None,
        }


_MAKER: Maker | None = None


def _write_shard(job: tuple[Path, int, int]) -> int:
    part, start, stop = job
    if _MAKER is None:
        raise RuntimeError("the worker has no Maker; write_synthetic sets it before forking")
    with part.open("w", encoding="utf-8") as f:
        for i in range(start, stop):
            f.write(json.dumps(_MAKER.check(i)) + "\n")
    return stop - start


def write_synthetic(n: int, out: Path, seed: int = 0, shard: int = 25_000,
                    jobs: int | None = None, progress: bool = True) -> Path:
    """Write ``n`` synthetic checks as JSON Lines shards into folder ``out`` (atomically).

    Shards are written by ``jobs`` forked workers; check i depends on (seed, i) only, so the
    output is the same for any number of workers.
    """
    global _MAKER
    if n < 1:
        raise SystemExit("error: --n must be at least 1")
    _MAKER = Maker(load_real(), seed)
    tmp = out.with_name(out.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    for old in tmp.iterdir():
        old.unlink()
    t0 = time.perf_counter()
    shards = [(tmp / f"part-{start // shard:05d}.jsonl", start, min(n, start + shard))
              for start in range(0, n, shard)]
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(shards)))
    import multiprocessing

    done = 0
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        for k in pool.imap(_write_shard, shards):
            done += k
            if progress:
                rate = done / (time.perf_counter() - t0)
                print(f"  {done}/{n} checks ({rate:.0f}/s)", file=sys.stderr, flush=True)
    (tmp / "SYNTHETIC.json").write_text(json.dumps({"n": n, "seed": seed, "shard": shard}) + "\n")
    if out.exists():
        import shutil

        shutil.rmtree(out)
    os.replace(tmp, out)
    return out


def ensure_synthetic(n: int, seed: int = 0, out: Path | None = None) -> Path:
    """The synthetic archive of ``n`` checks, generated once (reused when its marker matches)."""
    out = out or WORK / f"synth-{n}"
    marker = out / "SYNTHETIC.json"
    if marker.is_file():
        meta = json.loads(marker.read_text())
        if meta.get("n") == n and meta.get("seed") == seed:
            return out
    return write_synthetic(n, out, seed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    p = sub.add_parser("politifact", help="the 19,250 real PolitiFact checks")
    p.add_argument("--out", type=Path, default=DEFAULT_ARCHIVE)
    s = sub.add_parser("synthetic", help="N checks sampled from real PolitiFact text")
    s.add_argument("--n", type=int, required=True)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--shard", type=int, default=25_000, help="checks per JSON Lines file")
    s.add_argument("--out", type=Path, default=None, help="folder [default: bench/scratch/synth-N]")
    s.add_argument("--jobs", type=int, default=None, help="worker processes [default: all cores]")
    args = ap.parse_args()
    t0 = time.perf_counter()
    if args.what == "politifact":
        n = write_politifact(args.out)
        print(f"{n} checks -> {args.out} ({args.out.stat().st_size / 1e6:.0f} MB, {time.perf_counter() - t0:.1f} s)")
    else:
        out = write_synthetic(args.n, args.out or WORK / f"synth-{args.n}", args.seed, args.shard, args.jobs)
        size = sum(p.stat().st_size for p in out.iterdir())
        print(f"{args.n} checks -> {out} ({size / 1e6:.0f} MB, {time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
