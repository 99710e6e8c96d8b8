"""Writing a run's output folder: result.json, samples.csv, report.md, report.html."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from chatopt.errors import ChatoptError
from chatopt.report.html import run_html
from chatopt.report.markdown import run_markdown
from chatopt.report.result import RunResult
from chatopt.report.samples import Sample, write_samples


def prepare_out_dir(directory: Path) -> Path:
    """Create the output folder, or say clearly why it cannot be used."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ChatoptError(f"cannot create output folder {directory}: {exc.strerror}") from exc
    if not directory.is_dir():
        raise ChatoptError(f"{directory} is not a folder", hint="pass --out DIR with a folder path")
    return directory


def write_run(
    directory: Path, result: RunResult, samples: Sequence[Sample], *, plots: bool = True
) -> dict[str, Path]:
    """Write every output of a run; returns the paths by kind."""
    directory = prepare_out_dir(directory)
    paths = {"samples": directory / "samples.csv", "markdown": directory / "report.md"}
    write_samples(samples, paths["samples"])
    result.samples_file = paths["samples"].name
    paths["result"] = result.save(directory)
    paths["markdown"].write_text(run_markdown(result), encoding="utf-8")
    if plots:
        paths["html"] = directory / "report.html"
        paths["html"].write_text(run_html(result, samples), encoding="utf-8")
    return paths
