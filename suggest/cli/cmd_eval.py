"""suggest eval: rank a CheckThat! split with suggest (and bm25s) and print the figures."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from suggest.cli import app
from suggest.cli.common import (
    ArchiveOpt,
    IndexOpt,
    QuietOpt,
    SemanticOpt,
    echo,
    err,
    open_archive_index,
    progress_bar,
    rank_signals,
    semantic_choice,
    user_errors,
)
from suggest.errors import OptionError, SuggestError


class Layout(StrEnum):
    checkthat = "checkthat"
    judged = "judged"


class Peer(StrEnum):
    bm25s = "bm25s"
    none = "none"


@app.command("eval")
def eval_(
    layout: Annotated[
        Layout, typer.Argument(help="checkthat (CheckThat! data) or judged (the judged drafts, docs/evaluation.md).")
    ],
    folder: Annotated[
        Path | None,
        typer.Argument(
            help="checkthat: vclaims + <split>.queries.tsv + <split>.qrels; judged: a judged collection "
            "[default: the one shipped in tests/data/judged].",
            exists=True,
            file_okay=False,
            dir_okay=True,
            readable=True,
        ),
    ] = None,
    split: Annotated[
        str | None, typer.Option("--split", "-s", help="checkthat: split name present in FOLDER (train, dev, test...).")
    ] = None,
    archive: ArchiveOpt = None,
    index_dir: IndexOpt = None,
    run: Annotated[Path | None, typer.Option("--run", help="Also write suggest's ranking as a TREC run file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as one JSON object.")] = False,
    peer: Annotated[Peer, typer.Option("--peer", help="Rank with bm25s too, or none.")] = Peer.bm25s,
    preset: Annotated[
        str,
        typer.Option(
            "--preset",
            help="Settings to start from: default (the scoring of `suggest for`, its list rules off), "
            "as-shipped (list rules on), no-dates, words-only.",
        ),
    ] = "default",
    setting: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="KEY=VALUE over the preset (IndexConfig, RankOptions, QueryCleaning fields; char=2-4 or char=none).",
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N queries.")] = None,
    semantic: SemanticOpt = None,
    cache: Annotated[
        Path | None,
        typer.Option(
            "--cache",
            help="checkthat: keep the fact-checks' embeddings here, so a second run encodes nothing "
            "[default: $XDG_CACHE_HOME/suggest/embeddings, else ~/.cache/suggest/embeddings].",
            file_okay=False,
        ),
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Measure the ranking: on a CheckThat! folder (MAP@1, MAP@5, MRR, P@1, Recall@5), or on the
    judged drafts (precision, nDCG@5, fill, restatements, junk; train and held-out halves).

    Example: suggest eval checkthat ../shared/data/checkthat/2021-2a-en --split dev --preset no-dates
    """
    from suggest.evaluate import check_run_path, evaluate_checkthat, figures_table, settings, write_run

    if layout is Layout.judged:
        _judged(folder, archive, index_dir, as_json, setting or [], quiet, semantic)
        return
    with user_errors():
        need_extra(["ranx", *(["bm25s", "Stemmer"] if peer is Peer.bm25s else [])])
        if folder is None or split is None:
            raise OptionError("checkthat needs a FOLDER and --split; e.g. suggest eval checkthat DIR --split dev")
        if run is not None:
            check_run_path(run, folder)
        how = settings(setting or [], preset)
        from suggest.embed import user_cache

        with progress_bar("encoding", quiet, "texts") as bar:
            result = evaluate_checkthat(
                folder,
                split,
                how,
                peer=peer.value,
                limit=limit,
                progress=lambda m: err(m, quiet),
                semantic=semantic_choice(semantic),
                cache=cache or user_cache(),
                encoding=bar,
            )
        if run is not None:
            write_run(run, result.runs["suggest"])
            err(f"wrote {run}", quiet)
        timing = ", ".join(f"{k} {v:.1f}s" for k, v in result.seconds.items())
        n = int(result.figures["suggest"]["queries"])
        err(
            f"{folder.name} {split}: {timing}; {result.dated} of {len(result.runs['suggest'])} queries carried a date; "
            f"embeddings {'on' if result.semantic else 'off'} ({n} judged)",
            quiet,
        )
        if as_json:
            out = result.figures if peer is Peer.bm25s else result.figures["suggest"]
            echo(json.dumps(out, sort_keys=False))
        else:
            echo(figures_table(result.figures), nl=False)


def need_extra(modules: list[str]) -> None:
    """Fail at once, in one line, when a module of the ``eval`` extra is missing (rather than
    after minutes of work)."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise SuggestError(
            f"suggest eval needs the eval extra ({', '.join(missing)} not installed); "
            "install it with: pip install 'suggest[eval]'"
        )


def _judged(
    folder: Path | None,
    archive: Path | None,
    index_dir: Path | None,
    as_json: bool,
    pairs: list[str],
    quiet: bool,
    semantic: bool | None = None,
) -> None:
    """`suggest eval judged`: `suggest for` as shipped (or with ``--set`` RankOptions fields) on
    every judged draft."""
    from dataclasses import fields, replace

    from suggest.judged import evaluate_judged, judged_table, load_collection
    from suggest.records import RankOptions

    with user_errors():
        need_extra(["ranx"])
        here = folder or Path(__file__).resolve().parents[2] / "tests" / "data" / "judged"
        if not here.is_dir():
            raise OptionError(f"{here}: no judged collection here; pass its folder")
        collection = load_collection(here)
        opts = RankOptions()
        known = {f.name: f.type for f in fields(RankOptions)}
        for pair in pairs:
            key, _, value = pair.partition("=")
            if key not in known or key == "signals":
                raise OptionError(f"--set {pair}: not a ranking option; use a RankOptions field")
            default = getattr(opts, key)
            changed: dict[str, Any] = {key: type(default)(value) if default is not None else value}
            opts = replace(opts, **changed)
        ix, _, choice = open_archive_index(archive, index_dir, quiet, semantic)
        result = evaluate_judged(ix, collection, replace(opts, **rank_signals(choice, ix)))
        if as_json:
            echo(json.dumps(result))
        else:
            echo(judged_table(result), nl=False)
