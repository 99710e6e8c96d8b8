"""The demo's result model (``demo.json``): both profiles, the migration ladder, the headlines."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field

from chatopt.demo.accounting import UpstreamUsage

SCHEMA = "chatopt.demo/1"


class ScenarioOutcome(BaseModel):
    """One bench run of one scenario against one server configuration."""

    scenario: str
    purpose: str
    result_dir: str
    valid: bool
    requests: int
    failed: int
    conversations: int
    ttft_p50_ms: float | None
    ttft_p95_ms: float | None
    ttft_p50_miss_ms: float | None = Field(None, description="TTFT P50 of requests the cache did not answer")
    e2e_p50_ms: float | None
    cache_hits: int
    usage: UpstreamUsage
    prompt_tokens_by_turn: dict[int, float] = Field(
        default_factory=dict, description="mean server-reported prompt tokens per turn (0-based)"
    )

    @property
    def cache_hit_rate(self) -> float:
        return self.cache_hits / self.requests if self.requests else 0.0

    @property
    def cost_per_1k_conversations(self) -> float | None:
        if not self.conversations:
            return None
        return 1000 * self.usage.cost_usd / self.conversations


class StressOutcome(BaseModel):
    """Highest closed-loop user count that met the SLO, and the curve."""

    slo: str
    max_users_meeting_slo: int | None
    curve: list[dict[str, float | None]] = Field(default_factory=list)
    result_dir: str = ""


class SoakOutcome(BaseModel):
    """The leak verdict of a soak against the optimized server's process."""

    duration_s: float
    requests: int
    verdict: str
    rss_slope_per_1000_requests: float | None = None
    result_dir: str = ""


class ConfigurationRun(BaseModel):
    """A server configuration (a profile or a ladder step) and what was measured on it."""

    label: str
    switches: dict[str, bool]
    audit_dir: str | None = None
    audit_problems: list[str] = Field(default_factory=list, description="spec_ref of each problem found")
    scenarios: list[ScenarioOutcome] = Field(default_factory=list)
    stress: StressOutcome | None = None
    big_load: ScenarioOutcome | None = Field(None, description="--full: the 1,000-user load test")
    soak: SoakOutcome | None = None

    def scenario(self, name: str) -> ScenarioOutcome | None:
        return next((outcome for outcome in self.scenarios if outcome.scenario == name), None)


class Headline(BaseModel):
    """One figure before and after, its ratio, and what SPEC.md promised for it."""

    name: str
    unit: str
    before: float | None
    after: float | None
    change: str
    spec_promise: str
    measured_on: str


class DemoResult(BaseModel):
    """Everything ``chatopt demo`` measured; written as ``demo.json``."""

    schema_: str = Field(SCHEMA, alias="schema")
    created: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    mode: str
    machine: str
    duration_s: float = 0.0
    before: ConfigurationRun
    after: ConfigurationRun
    ladder: list[ConfigurationRun] = Field(default_factory=list)
    headlines: list[Headline] = Field(default_factory=list)
    interrupted: bool = False

    model_config = {"populate_by_name": True}

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=2)
