"""The quick load of nltk's Snowball stemmer: nltk's own stems, without nltk's package __init__.

Run in a fresh interpreter: whether nltk is already imported decides which path `_snowball` takes.
"""

from __future__ import annotations

import json
import subprocess
import sys

# Words the lexicon cannot hold: empty, one letter, apostrophes, digits, underscores, accents,
# other scripts, ligatures, Snowball's special words and suffix edge cases.
ODD_WORDS = [
    "", "a", "y", "yy", "yes", "'s", "s'", "don't", "o'clock", "\u2019s", "ʼtwas", "dying", "lying", "tying",
    "skis", "skies", "news", "howe", "atlas", "cosmos", "bias", "andes", "gently", "ugly", "early", "only",
    "singly", "inning", "outing", "canning", "herring", "earring", "proceed", "exceed", "succeed", "generate",
    "generously", "general", "communism", "communal", "arsenal", "arsenic", "universe", "university",
    "caf\u00e9s", "na\u00efve", "stra\u00dfe", "\ufb01le", "\u0153uvre", "\u03b6\u03c9\u03ae", "\u5317\u4eac", "\u0131\u0131\u0131",
    "covid19", "x86", "2020s", "1st", "foo_bar", "_", "__init__", "a" * 40, "y" * 12, "Running", "RUNNING",
    "ied", "ies", "sses", "eed", "eedly", "ingly", "ational", "fulness", "ousli", "iveness", "izations",
    "quietly", "strongand", "antidisestablishmentarianism", "yelling", "sayings", "enjoying", "thy",
]  # fmt: skip

_COMPARE = r"""
import importlib.util, json, sys
from pathlib import Path

opened = []
sys.addaudithook(lambda event, args: opened.append(args[0]) if event == "open" and isinstance(args[0], str) else None)
root = Path(importlib.util.find_spec("nltk").submodule_search_locations[0]).resolve()

def package_inits_run():
    # A package __init__ that ran was read from its .py or its cached .pyc under nltk's folder.
    paths = (Path(p).resolve() for p in opened)
    return sorted({p.relative_to(root).as_posix() for p in paths if p.is_relative_to(root) and p.name.startswith("__init__")})

from suggest import text

words = sorted(text.lexicon()) + json.loads(sys.argv[1])
quick = text._snowball()
out = {
    "inits_after_quick": package_inits_run(),
    "nltk_modules_left": sorted(m for m in sys.modules if m == "nltk" or m.startswith("nltk.")),
    "heavy_modules": sorted(m for m in ("sklearn", "scipy.stats", "nltk.corpus.reader") if m in sys.modules),
    "quick_is_alone": type(quick.__self__).__module__ == "nltk.stem.snowball" and "nltk" not in sys.modules,
}

def boom():
    raise ImportError("simulated: another nltk layout")

text.snowball_alone = boom
text._snowball.cache_clear()
fallback = text._snowball()

from nltk.stem.snowball import SnowballStemmer

plain = SnowballStemmer("english").stem
out["inits_after_plain"] = package_inits_run()
out["words"] = len(words)
out["quick_differs"] = [[w, quick(w), plain(w)] for w in words if quick(w) != plain(w)]
out["fallback_differs"] = [[w, fallback(w), plain(w)] for w in words if fallback(w) != plain(w)]
print(json.dumps(out))
"""


def test_quick_snowball_gives_nltks_stems_without_nltks_init():
    done = subprocess.run(
        [sys.executable, "-c", _COMPARE, json.dumps(ODD_WORDS)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["words"] > 40_000
    assert out["quick_differs"] == []
    assert out["fallback_differs"] == []
    assert out["quick_is_alone"] is True
    assert out["inits_after_quick"] == []
    assert out["nltk_modules_left"] == []  # a later `import nltk` runs in full, as usual
    assert out["heavy_modules"] == []
    # The check above can see an __init__ run: the plain import runs nltk's.
    assert any(p == "__init__.py" or p.startswith("__pycache__/__init__.") for p in out["inits_after_plain"])


def test_stem_of_new_words_matches_nltk_in_process():
    from suggest.text import stem

    assert [stem(w) for w in ("running", "generously", "strongand", "2020", "dying")] == [
        "run",
        "generous",
        "strongand",
        "2020",
        "die",
    ]
