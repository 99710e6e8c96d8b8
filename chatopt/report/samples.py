"""Raw per-request samples: one row per chat request, saved as CSV next to ``result.json``.

Every percentile of a run is computed from these rows, and compare/gate bootstrap
from them, so merging runs or workers is exact (concatenate the rows).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from chatopt.targets import ChatExchange

CACHE_HEADERS = ("x-cache", "x-chatopt-cache", "x-cache-status", "cf-cache-status")
ROUTE_HEADERS = ("x-chatopt-model", "x-chatopt-route", "x-model", "openai-model")


@dataclass
class Sample:
    """One request as measured by the load generator (times in ms, ``t_s`` since run start)."""

    t_s: float
    ttft_ms: float | None
    e2e_ms: float
    tpot_ms: float | None
    itl_ms: str
    chunks: int
    output_tokens: int
    tokens_source: str
    prompt_tokens: int | None
    status: int
    ok: bool
    error_kind: str
    error: str
    schedule_lag_ms: float
    users: int
    conversation: str
    turn: int
    cache: str
    route: str
    worker: str

    @property
    def itl_values(self) -> list[float]:
        return [float(value) for value in self.itl_ms.split()] if self.itl_ms else []


def sample_from_exchange(
    exchange: ChatExchange,
    *,
    run_start: float,
    model: str | None,
    users: int,
    conversation: str,
    turn: int,
    worker: str,
) -> Sample:
    """Turn one timed exchange into a sample row (definitions in docs/METRICS.md)."""
    ttft = exchange.ttft_s
    tokens, source = exchange.output_tokens(model) if exchange.answer else (0, "none")
    tpot = exchange.tpot_s(model) if exchange.ok else None
    sent = exchange.sent or exchange.started
    return Sample(
        t_s=round(exchange.started - run_start, 6),
        ttft_ms=None if ttft is None or not exchange.ok else ttft * 1000,
        e2e_ms=exchange.e2e_s * 1000,
        tpot_ms=None if tpot is None else tpot * 1000,
        itl_ms=" ".join(f"{gap * 1000:.3f}" for gap in exchange.itl_s) if exchange.ok else "",
        chunks=len(exchange.chunk_times),
        output_tokens=tokens,
        tokens_source=source,
        prompt_tokens=_prompt_tokens(exchange),
        status=exchange.status,
        ok=exchange.ok,
        error_kind=exchange.error_kind or "",
        error=(exchange.error or "")[:200],
        schedule_lag_ms=max(0.0, (sent - exchange.started) * 1000),
        users=users,
        conversation=conversation,
        turn=turn,
        cache=_first_header(exchange, CACHE_HEADERS),
        route=_first_header(exchange, ROUTE_HEADERS),
        worker=worker,
    )


def _prompt_tokens(exchange: ChatExchange) -> int | None:
    """Prompt tokens the server reported for this request (``usage``), if any."""
    usage = exchange.usage or {}
    value = usage.get("prompt_tokens", usage.get("input_tokens"))
    return int(value) if isinstance(value, int | float) else None


def _first_header(exchange: ChatExchange, names: Sequence[str]) -> str:
    for name in names:
        value = exchange.header(name)
        if value:
            return value
    return ""


SAMPLE_COLUMNS = tuple(f.name for f in fields(Sample))


def write_samples(samples: Iterable[Sample], path: Path) -> None:
    """Write rows as CSV with pandas (imported here: most commands never need it)."""
    import pandas as pd

    frame = pd.DataFrame([asdict(sample) for sample in samples], columns=list(SAMPLE_COLUMNS))
    frame.to_csv(path, index=False)


def read_samples(path: Path) -> list[Sample]:
    """Rows of a samples CSV written by :func:`write_samples`."""
    import pandas as pd

    empty_is_missing = {"ttft_ms": [""], "tpot_ms": [""], "prompt_tokens": [""]}
    frame = pd.read_csv(path, keep_default_na=False, na_values=empty_is_missing)
    missing = set(SAMPLE_COLUMNS) - set(frame.columns)
    if missing:
        raise ValueError(f"{path} lacks columns {sorted(missing)}")
    rows: list[Sample] = []
    for record in frame[list(SAMPLE_COLUMNS)].to_dict("records"):
        for name in ("ttft_ms", "tpot_ms", "prompt_tokens"):
            if pd.isna(record[name]):
                record[name] = None
        if record["prompt_tokens"] is not None:
            record["prompt_tokens"] = int(record["prompt_tokens"])
        record["ok"] = bool(record["ok"]) if not isinstance(record["ok"], str) else record["ok"] == "True"
        for name in ("itl_ms", "error_kind", "error", "conversation", "cache", "route", "worker"):
            record[name] = str(record[name])
        rows.append(Sample(**record))
    return rows
