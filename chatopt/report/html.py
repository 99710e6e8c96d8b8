"""Self-contained HTML reports: the Markdown tables plus embedded matplotlib plots."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from chatopt.report.compare import Comparison
from chatopt.report.markdown import comparison_markdown, run_markdown
from chatopt.report.result import RunResult
from chatopt.report.samples import Sample

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f4f4f4}td:first-child{text-align:left}img{max-width:100%;margin:.5em 0}
code{background:#f4f4f4;padding:0 .2em}.invalid{color:#b00;font-weight:bold}
"""


def _inline(text: str) -> str:
    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


def markdown_to_html(markdown: str) -> str:
    """The small Markdown subset our reports use: headings, lists, tables, paragraphs."""
    out: list[str] = []
    table: list[list[str]] = []
    in_list = False

    def flush_table() -> None:
        if not table:
            return
        head, *body = table
        out.append("<table><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in head) + "</tr>")
        out.extend("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in body)
        out.append("</table>")
        table.clear()

    for line in markdown.splitlines():
        stripped = line.strip()
        if stripped.startswith("|"):
            cells = [cell.strip() for cell in stripped.strip("|").split("|")]
            if not all(set(cell) <= {"-", " "} for cell in cells):
                table.append(cells)
            continue
        flush_table()
        is_item = stripped.startswith("- ")
        if in_list and not is_item:
            out.append("</ul>")
            in_list = False
        if stripped.startswith("#"):
            level = len(stripped) - len(stripped.lstrip("#"))
            out.append(f"<h{level}>{_inline(stripped[level:].strip())}</h{level}>")
        elif is_item:
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{_inline(stripped[2:])}</li>")
        elif stripped:
            out.append(f"<p>{_inline(stripped)}</p>")
    flush_table()
    if in_list:
        out.append("</ul>")
    return "\n".join(out)


def page(title: str, body: str, images: Sequence[tuple[str, str | None]]) -> str:
    figures = "\n".join(
        f'<h2>{html.escape(caption)}</h2><img alt="{html.escape(caption)}" src="{uri}">'
        for caption, uri in images
        if uri
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{body}\n{figures}</body></html>\n"
    )


def run_html(result: RunResult, samples: Sequence[Sample]) -> str:
    """report.html of a run: tables, latency over time, percentile curves, stress/soak plots."""
    from chatopt.report import plots  # matplotlib loads only when a report is drawn

    images: list[tuple[str, str | None]] = [
        ("Latency over time", plots.latency_over_time(samples)),
        ("Percentile curves", plots.percentile_curves({result.scenario.name: samples}) if samples else None),
    ]
    stress = result.extra.get("stress")
    if stress and stress["steps"]:
        images.append(
            ("Throughput and latency vs load", plots.load_curve(stress["steps"], stress["load_label"]))
        )
    soak = result.extra.get("soak")
    if soak:
        for name, points in soak.get("series", {}).items():
            if len(points) > 1:
                images.append((name, plots.series(points, title=name, xlabel="requests", ylabel=name)))
    return page(f"chatopt {result.kind}", markdown_to_html(run_markdown(result)), images)


def comparison_html(
    comparison: Comparison,
    baseline_samples: Sequence[Sample] | None,
    current_samples: Sequence[Sample] | None,
) -> str:
    """report.html of ``chatopt compare`` with before/after percentile overlays."""
    from chatopt.report import plots

    images: list[tuple[str, str | None]] = []
    if baseline_samples is not None and current_samples is not None:
        runs = {comparison.baseline_label: baseline_samples, comparison.current_label: current_samples}
        images.append(("Before/after percentile curves", plots.percentile_curves(runs)))
        images.append(("Before/after ITL and TPOT", plots.percentile_curves(runs, ("itl_ms", "tpot_ms"))))
    return page("chatopt compare", markdown_to_html(comparison_markdown(comparison)), images)
