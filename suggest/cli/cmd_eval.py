"""suggest eval: rank a CheckThat! split with suggest (and bm25s) and print the figures."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from suggest.cli import app
from suggest.cli.common import QuietOpt, err, user_errors


class Layout(StrEnum):
    checkthat = "checkthat"


class Peer(StrEnum):
    bm25s = "bm25s"
    none = "none"


@app.command("eval")
def eval_(
    layout: Annotated[Layout, typer.Argument(help="Data layout (only checkthat so far).")],
    folder: Annotated[
        Path,
        typer.Argument(
            help="The folder: vclaims + <split>.queries.tsv + <split>.qrels.",
            exists=True,
            file_okay=False,
            dir_okay=True,
            readable=True,
        ),
    ],
    split: Annotated[str, typer.Option("--split", "-s", help="Split name present in FOLDER (train, dev, test...).")],
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
    quiet: QuietOpt = False,
) -> None:
    """Measure the ranking on a CheckThat! folder: MAP@1, MAP@5, MRR, P@1, Recall@5.

    Example: suggest eval checkthat ../shared/data/checkthat/2021-2a-en --split dev --preset no-dates
    """
    from suggest.evaluate import evaluate_checkthat, figures_table, settings, write_run

    with user_errors():
        how = settings(setting or [], preset)
        result = evaluate_checkthat(folder, split, how, peer=peer.value, limit=limit, progress=lambda m: err(m, quiet))
        if run is not None:
            write_run(run, result.runs["suggest"])
            err(f"wrote {run}", quiet)
        timing = ", ".join(f"{k} {v:.1f}s" for k, v in result.seconds.items())
        err(f"{folder.name} {split}: {timing}", quiet)
        if as_json:
            out = result.figures if peer is Peer.bm25s else result.figures["suggest"]
            typer.echo(json.dumps(out, sort_keys=False))
        else:
            typer.echo(figures_table(result.figures), nl=False)
