"""Measure the semantic cache on labelled question pairs: hit rate vs false-hit rate per threshold.

Each pair stores question ``a`` in a fresh scope of a real :class:`ChatCache` (the
same code the reference server runs: normalization, scope and context keys, the
offline MiniLM embedding, the trap guard) and then looks up question ``b``. The best
cosine and the guard's verdict are recorded once, so every threshold from 0.80 to
0.95 is evaluated from one pass. ``paraphrase`` pairs should hit; every other kind is
a trap that must not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from chatopt.errors import ChatoptError

DEFAULT_PAIRS_DIR = Path(__file__).resolve().parent.parent / "scenarios" / "cache_eval"
THRESHOLDS = tuple(round(0.80 + 0.01 * i, 2) for i in range(16))
PARAPHRASE = "paraphrase"
TRAP_KINDS = ("negation", "entity", "number", "date", "intent", "scope", "context")


@dataclass(frozen=True)
class LabelledPair:
    """A cached question ``a``, a new question ``b``, and whether ``b`` may reuse ``a``'s answer."""

    kind: str
    language: str
    a: str
    b: str
    scope_b: str | None = None
    history_a: tuple[str, ...] = ()
    history_b: tuple[str, ...] = ()

    @property
    def should_hit(self) -> bool:
        return self.kind == PARAPHRASE


@dataclass(frozen=True)
class PairOutcome:
    """What the cache did with one pair: exact hit, best cosine in ``b``'s partition, guard veto."""

    pair: LabelledPair
    exact: bool
    score: float | None
    vetoed_by: str | None

    def hit_at(self, threshold: float, *, guard: bool = True) -> bool:
        if self.exact:
            return True
        if self.score is None or self.score < threshold:
            return False
        return not (guard and self.vetoed_by is not None)


@dataclass(frozen=True)
class ThresholdRow:
    """Rates at one cosine threshold (shares in 0..1)."""

    threshold: float
    hit_rate: float
    false_hit_rate: float
    false_hit_rate_without_guard: float
    hit_rate_by_language: dict[str, float]
    false_hits_by_kind: dict[str, int]


@dataclass
class CacheEvalResult:
    """Per-threshold rates, the recommended default and the pairs it gets wrong."""

    pairs: int
    paraphrases: int
    traps: int
    traps_by_kind: dict[str, int]
    rows: list[ThresholdRow]
    recommended: float
    target_false_hit_rate: float
    target_hit_rate: float
    misses_at_recommended: list[PairOutcome] = field(default_factory=list)
    false_hits_at_recommended: list[PairOutcome] = field(default_factory=list)

    def row(self, threshold: float) -> ThresholdRow:
        return next(r for r in self.rows if abs(r.threshold - threshold) < 1e-9)

    @property
    def goals_met(self) -> bool:
        row = self.row(self.recommended)
        return row.false_hit_rate <= self.target_false_hit_rate and row.hit_rate >= self.target_hit_rate


def load_pairs(paths: Iterable[Path]) -> list[LabelledPair]:
    """Pairs from YAML files (``pairs: [{kind, a, b, ...}]``) or directories of them."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.glob("*.yaml")))
        elif path.is_file():
            files.append(path)
        else:
            raise ChatoptError(f"{path} does not exist", hint="pass a pairs YAML file or a directory of them")
    if not files:
        raise ChatoptError("no pair files found", hint=f"put pairs_*.yaml files in {DEFAULT_PAIRS_DIR}")
    pairs: list[LabelledPair] = []
    for file in files:
        pairs.extend(_read_pairs(file))
    return pairs


def _read_pairs(file: Path) -> list[LabelledPair]:
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ChatoptError(f"{file} is not valid YAML: {exc}") from exc
    items = data.get("pairs") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ChatoptError(f"{file} must hold a 'pairs' list", hint="see scenarios/cache_eval/pairs_en.yaml")
    language = "pt" if file.stem.endswith("_pt") else "en"
    pairs = []
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict) or not {"kind", "a", "b"} <= set(item):
            raise ChatoptError(f"{file}: pair {number} needs kind, a and b")
        if item["kind"] not in (PARAPHRASE, *TRAP_KINDS):
            kinds = ", ".join((PARAPHRASE, *TRAP_KINDS))
            raise ChatoptError(
                f"{file}: pair {number} has unknown kind {item['kind']!r}", hint=f"use one of {kinds}"
            )
        pairs.append(
            LabelledPair(
                kind=item["kind"],
                language=item.get("lang", language),
                a=str(item["a"]),
                b=str(item["b"]),
                scope_b=item.get("scope_b"),
                history_a=tuple(item.get("history_a") or ()),
                history_b=tuple(item.get("history_b") or ()),
            )
        )
    return pairs


def _history(turns: tuple[str, ...]) -> list[dict[str, str]]:
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": text} for i, text in enumerate(turns)]


async def _run_pairs(
    pairs: list[LabelledPair], embed: Callable, progress: Callable[[int], None] | None
) -> list[PairOutcome]:
    from reference_server.cache import CacheScope, ChatCache, CompletedAnswer
    from reference_server.cache.embedding_batcher import EmbeddingBatcher
    from reference_server.cache.exact import MemoryExactStore

    cache = ChatCache(MemoryExactStore(), embedder=EmbeddingBatcher(embed), threshold=-1.0, candidates=1)
    outcomes = []
    try:
        for number, pair in enumerate(pairs):
            scope_a = CacheScope(f"eval-{number}")
            scope_b = CacheScope(f"eval-{number}-{pair.scope_b}") if pair.scope_b else scope_a
            stored = await cache.lookup(pair.a, _history(pair.history_a), scope_a)
            await cache.store(stored, CompletedAnswer(f"answer to pair {number}", "eval", "stop"))
            found = await cache.lookup(pair.b, _history(pair.history_b), scope_b)
            outcomes.append(PairOutcome(pair, found.status == "hit-exact", found.score, found.vetoed_by))
            if progress is not None:
                progress(1)
    finally:
        await cache.close()
    return outcomes


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _row(outcomes: list[PairOutcome], threshold: float) -> ThresholdRow:
    paraphrases = [o for o in outcomes if o.pair.should_hit]
    traps = [o for o in outcomes if not o.pair.should_hit]
    languages = sorted({o.pair.language for o in paraphrases})
    by_language = {
        lang: _rate(
            sum(o.hit_at(threshold) for o in paraphrases if o.pair.language == lang),
            sum(o.pair.language == lang for o in paraphrases),
        )
        for lang in languages
    }
    false_by_kind = {
        kind: sum(o.hit_at(threshold) for o in traps if o.pair.kind == kind) for kind in TRAP_KINDS
    }
    return ThresholdRow(
        threshold=threshold,
        hit_rate=_rate(sum(o.hit_at(threshold) for o in paraphrases), len(paraphrases)),
        false_hit_rate=_rate(sum(o.hit_at(threshold) for o in traps), len(traps)),
        false_hit_rate_without_guard=_rate(sum(o.hit_at(threshold, guard=False) for o in traps), len(traps)),
        hit_rate_by_language=by_language,
        false_hits_by_kind=false_by_kind,
    )


def recommend_threshold(rows: list[ThresholdRow], target_false_hit_rate: float) -> float:
    """The threshold with the best hit rate among those within the false-hit budget (safest on ties).

    When no threshold is within budget, the one with the fewest false hits.
    """
    safe = [r for r in rows if r.false_hit_rate <= target_false_hit_rate]
    if not safe:
        return min(rows, key=lambda r: (r.false_hit_rate, -r.threshold)).threshold
    best = max(r.hit_rate for r in safe)
    return max(r.threshold for r in safe if r.hit_rate == best)


def evaluate(
    pairs: list[LabelledPair],
    *,
    embed: Callable | None = None,
    thresholds: tuple[float, ...] = THRESHOLDS,
    target_false_hit_rate: float = 0.01,
    target_hit_rate: float = 0.80,
    progress: Callable[[int], None] | None = None,
) -> CacheEvalResult:
    """Run every pair through the cache and summarize each threshold (``embed`` defaults to MiniLM)."""
    if not pairs:
        raise ChatoptError("no pairs to evaluate")
    if embed is None:
        from chatopt.embeddings import get_embedder

        embed = get_embedder().embed
    outcomes = asyncio.run(_run_pairs(pairs, embed, progress))
    rows = [_row(outcomes, t) for t in thresholds]
    recommended = recommend_threshold(rows, target_false_hit_rate)
    traps = [o for o in outcomes if not o.pair.should_hit]
    return CacheEvalResult(
        pairs=len(outcomes),
        paraphrases=len(outcomes) - len(traps),
        traps=len(traps),
        traps_by_kind={kind: sum(o.pair.kind == kind for o in traps) for kind in TRAP_KINDS},
        rows=rows,
        recommended=recommended,
        target_false_hit_rate=target_false_hit_rate,
        target_hit_rate=target_hit_rate,
        misses_at_recommended=[o for o in outcomes if o.pair.should_hit and not o.hit_at(recommended)],
        false_hits_at_recommended=[o for o in traps if o.hit_at(recommended)],
    )
