"""suggest: the "Want to dive deeper?" list for a new fact-check, ranked by TF-IDF over the archive."""

from importlib.metadata import PackageNotFoundError, version

from suggest.archive import read_archive
from suggest.errors import SuggestError
from suggest.index import Index, build_index, open_index
from suggest.rank import suggest
from suggest.readers import parse_article
from suggest.records import Check, IndexConfig, RankOptions, Suggestion
from suggest.render import render

try:
    __version__ = version("suggest")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = [
    "Check",
    "Index",
    "IndexConfig",
    "RankOptions",
    "SuggestError",
    "Suggestion",
    "build_index",
    "open_index",
    "parse_article",
    "read_archive",
    "render",
    "suggest",
    "__version__",
]
