"""``chatopt cache-eval``: how often the semantic cache hits paraphrases and falls for traps."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from chatopt.cache_eval import DEFAULT_PAIRS_DIR, CacheEvalResult, evaluate, load_pairs
from chatopt.errors import ChatoptError


def cache_eval(
    pairs: Annotated[
        list[Path] | None,
        typer.Option("--pairs", "-p", help="Pair files or folders (YAML); default: the bundled EN+PT set."),
    ] = None,
    html_path: Annotated[
        Path, typer.Option("--html", help="Where to write the HTML report with the plot.")
    ] = Path("reports/cache-eval.html"),
    json_path: Annotated[Path | None, typer.Option("--json", help="Also write the figures as JSON.")] = None,
    max_false_hits: Annotated[
        float, typer.Option("--max-false-hits", help="False-hit budget, % of traps.", min=0, max=100)
    ] = 1.0,
    min_hits: Annotated[
        float, typer.Option("--min-hits", help="Hit-rate goal, % of paraphrases.", min=0, max=100)
    ] = 80.0,
) -> None:
    """Measure the semantic cache's hit rate and false-hit rate at thresholds 0.80-0.95.

    Each pair runs through the server's real cache: keys, offline MiniLM embeddings, trap guard.

    Paraphrases should hit; traps (negation, entity, number, date, intent, scope, context) must not.

    Recommends the threshold with the most hits within the false-hit budget; writes an HTML plot.

    Example: chatopt cache-eval --html reports/cache-eval.html --json reports/cache-eval.json
    """
    labelled = load_pairs(pairs or [DEFAULT_PAIRS_DIR])
    console = Console()
    with Progress(
        TextColumn("embedding and looking up pairs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True,
    ) as progress:
        task = progress.add_task("pairs", total=len(labelled))
        result = evaluate(
            labelled,
            target_false_hit_rate=max_false_hits / 100,
            target_hit_rate=min_hits / 100,
            progress=lambda n: progress.advance(task, n),
        )
    console.print(_threshold_table(result))
    console.print(_trap_table(result))
    chosen = result.row(result.recommended)
    verdict = "[green]meets[/green]" if result.goals_met else "[red]does not meet[/red]"
    console.print(
        f"recommended threshold [bold]{result.recommended:.2f}[/bold]: hits {100 * chosen.hit_rate:.1f}% of "
        f"{result.paraphrases} paraphrases, false hits {100 * chosen.false_hit_rate:.1f}% of {result.traps} "
        f"traps; {verdict} the goal (>= {min_hits:g}% hits, <= {max_false_hits:g}% false hits)"
    )
    from chatopt.report.cache_eval import cache_eval_html

    _write(html_path, cache_eval_html(result))
    console.print(f"HTML report: {html_path}")
    if json_path is not None:
        _write(json_path, json.dumps(_as_json(result), indent=2, ensure_ascii=False))
        console.print(f"JSON figures: {json_path}")


def _threshold_table(result: CacheEvalResult) -> Table:
    languages = sorted(result.rows[0].hit_rate_by_language)
    table = Table(title=f"{result.pairs} pairs: {result.paraphrases} paraphrases, {result.traps} traps")
    table.add_column("threshold", justify="right")
    table.add_column("hit rate", justify="right")
    for language in languages:
        table.add_column(f"hits {language}", justify="right")
    table.add_column("false hits", justify="right")
    table.add_column("false hits w/o guard", justify="right")
    for row in result.rows:
        style = "bold green" if row.threshold == result.recommended else None
        table.add_row(
            f"{row.threshold:.2f}",
            f"{100 * row.hit_rate:.1f}%",
            *(f"{100 * row.hit_rate_by_language[lang]:.1f}%" for lang in languages),
            f"{100 * row.false_hit_rate:.1f}%",
            f"{100 * row.false_hit_rate_without_guard:.1f}%",
            style=style,
        )
    return table


def _trap_table(result: CacheEvalResult) -> Table:
    chosen = result.row(result.recommended)
    table = Table(title=f"traps at {result.recommended:.2f}")
    table.add_column("kind")
    table.add_column("pairs", justify="right")
    table.add_column("false hits", justify="right")
    for kind, count in result.traps_by_kind.items():
        table.add_row(kind, str(count), str(chosen.false_hits_by_kind[kind]))
    return table


def _as_json(result: CacheEvalResult) -> dict:
    data = asdict(result)
    for key in ("misses_at_recommended", "false_hits_at_recommended"):
        data[key] = [
            {"kind": o["pair"]["kind"], "a": o["pair"]["a"], "b": o["pair"]["b"], "score": o["score"],
             "exact": o["exact"], "vetoed_by": o["vetoed_by"]}
            for o in data[key]
        ]
    data["goals_met"] = result.goals_met
    return data


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ChatoptError(f"cannot write {path}: {exc.strerror}", hint="choose another path") from exc
