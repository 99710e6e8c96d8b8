"""The mock LLM's configuration: latency tiers, model-name mapping, faults, streaming.

A YAML file (``chatopt mock-llm --config FILE``) overrides any part of the built-in
defaults; every field is optional::

    seed: 7
    tokens_per_event: 1
    default_tier: medium          # null: unknown model names get 404
    tiers:
      small: {base_ms: 250, prefill_ms_per_token: 0.05, tokens_per_second: 120}
      tiny:  {base_ms: 80, prefill_ms_per_token: 0.02, tokens_per_second: 300,
              input_usd_per_million: 0.05, output_usd_per_million: 0.2}
    models:                       # exact names first, then glob patterns in order
      my-fast-model: tiny
      "*-mini": small
    faults:
      error_rate: 0.02            # share of requests answered 500/503
      rate_limit_rate: 0.01       # share answered 429 with Retry-After
    model_faults:                 # per model name or pattern; unset fields come from `faults`
      gpt-4o-mini: {bad_answer_rate: 0.3, bad_answer_kind: refusal}
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from chatopt.errors import ChatoptError

BadAnswerKind = Literal["empty", "refusal", "short"]


class Tier(BaseModel):
    """A latency and price profile: TTFT = base + prefill per prompt token, then a token rate."""

    model_config = ConfigDict(extra="forbid")

    base_ms: float = Field(ge=0, description="fixed part of the time to first token")
    prefill_ms_per_token: float = Field(ge=0, description="extra time to first token per prompt token")
    tokens_per_second: float = Field(gt=0, description="decode speed after the first token")
    jitter_ms: float = Field(default=0.0, ge=0, description="TTFT varies uniformly by up to +/- this much")
    token_jitter: float = Field(
        default=0.0, ge=0, lt=1, description="each inter-token gap varies by up to +/- this fraction"
    )
    input_usd_per_million: float = Field(default=0.0, ge=0)
    output_usd_per_million: float = Field(default=0.0, ge=0)

    def time_to_first_token_ms(self, prompt_tokens: int) -> float:
        """The configured TTFT (without jitter) for a prompt of this many tokens."""
        return self.base_ms + self.prefill_ms_per_token * prompt_tokens

    def cost_usd(self, prompt_tokens: int, completion_tokens: int) -> float:
        """What a hosted API with this tier's prices would charge for one call."""
        return (
            prompt_tokens * self.input_usd_per_million + completion_tokens * self.output_usd_per_million
        ) / 1_000_000


class Faults(BaseModel):
    """Faults injected into a share of requests (each rate is a probability in [0, 1])."""

    model_config = ConfigDict(extra="forbid")

    error_rate: float = Field(default=0.0, ge=0, le=1)
    error_status: Literal[500, 503] = 503
    rate_limit_rate: float = Field(default=0.0, ge=0, le=1)
    retry_after_s: float = Field(default=1.0, ge=0)
    hang_rate: float = Field(default=0.0, ge=0, le=1)
    hang_s: float = Field(default=600.0, ge=0, description="how long a hung request waits before closing")
    slow_first_token_rate: float = Field(default=0.0, ge=0, le=1)
    slow_first_token_ms: float = Field(default=5000.0, ge=0)
    cut_rate: float = Field(default=0.0, ge=0, le=1)
    cut_after_tokens: int = Field(default=10, ge=0, description="a cut stream drops after this many tokens")
    bad_answer_rate: float = Field(default=0.0, ge=0, le=1)
    bad_answer_kind: BadAnswerKind = "refusal"


DEFAULT_TIERS: dict[str, Tier] = {
    "small": Tier(
        base_ms=250,
        prefill_ms_per_token=0.05,
        tokens_per_second=120,
        jitter_ms=25,
        token_jitter=0.2,
        input_usd_per_million=0.15,
        output_usd_per_million=0.60,
    ),
    "medium": Tier(
        base_ms=500,
        prefill_ms_per_token=0.1,
        tokens_per_second=70,
        jitter_ms=50,
        token_jitter=0.2,
        input_usd_per_million=2.50,
        output_usd_per_million=10.0,
    ),
    "large": Tier(
        base_ms=800,
        prefill_ms_per_token=0.2,
        tokens_per_second=40,
        jitter_ms=80,
        token_jitter=0.2,
        input_usd_per_million=15.0,
        output_usd_per_million=60.0,
    ),
}

DEFAULT_MODELS: dict[str, str] = {
    "small": "small",
    "medium": "medium",
    "large": "large",
    "mock-small": "small",
    "mock-medium": "medium",
    "mock-large": "large",
    "gpt-4o-mini": "small",
    "gpt-4.1-mini": "small",
    "gpt-4.1-nano": "small",
    "gpt-5-mini": "small",
    "gpt-5-nano": "small",
    "gemini-2.0-flash": "small",
    "llama-3.1-8b-instant": "small",
    "gpt-4o": "medium",
    "gpt-4.1": "medium",
    "claude-sonnet-4": "medium",
    "gpt-4": "large",
    "gpt-4-turbo": "large",
    "gpt-5": "large",
    "o1": "large",
    "o3-mini": "large",
    "claude-opus-4": "large",
    "*-mini*": "small",
    "*-nano*": "small",
    "*flash*": "small",
    "*haiku*": "small",
    "*sonnet*": "medium",
    "*opus*": "large",
}


class MockConfig(BaseModel):
    """Everything the mock LLM serves: tiers, which model names use them, faults, streaming shape."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    tokens_per_event: int = Field(default=1, ge=1, description="tokens carried by each SSE event")
    tiers: dict[str, Tier] = Field(default_factory=lambda: dict(DEFAULT_TIERS))
    models: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_MODELS))
    default_tier: str | None = "medium"
    faults: Faults = Field(default_factory=Faults)
    model_faults: dict[str, Faults] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _tiers_exist(self) -> MockConfig:
        named = set(self.models.values()) | ({self.default_tier} if self.default_tier else set())
        missing = sorted(named - set(self.tiers))
        if missing:
            defined = ", ".join(sorted(self.tiers))
            raise ValueError(f"unknown tier(s) {', '.join(missing)}; defined: {defined}")
        return self

    def tier_name_for(self, model: str) -> str | None:
        """The tier a model name maps to: exact name, then glob patterns, then ``default_tier``."""
        if model in self.models:
            return self.models[model]
        for pattern, tier in self.models.items():
            if any(char in pattern for char in "*?[") and fnmatch.fnmatchcase(model, pattern):
                return tier
        return self.default_tier

    def faults_for(self, model: str) -> Faults:
        """The faults of a model name: its own entry (exact, then glob pattern), else ``faults``."""
        if model in self.model_faults:
            return self.model_faults[model]
        for pattern, faults in self.model_faults.items():
            if fnmatch.fnmatchcase(model, pattern):
                return faults
        return self.faults

    def model_names(self) -> list[str]:
        """The concrete (non-pattern) model names, as ``GET /v1/models`` lists them."""
        return [name for name in self.models if not any(char in name for char in "*?[")]

    def with_fast_tiers(self) -> MockConfig:
        """The same config with every tier answering in milliseconds (5 ms TTFT, 5,000 tokens/s, no jitter).

        Prices are kept, so cost figures stay meaningful in fast tests and demos.
        """
        fast_timing = {
            "base_ms": 5.0,
            "prefill_ms_per_token": 0.0,
            "tokens_per_second": 5000.0,
            "jitter_ms": 0.0,
            "token_jitter": 0.0,
        }
        tiers = {name: tier.model_copy(update=fast_timing) for name, tier in self.tiers.items()}
        return self.model_copy(update={"tiers": tiers})

    @classmethod
    def fast(cls, **overrides: Any) -> MockConfig:
        """A config for tests: the defaults (with ``overrides`` merged in), every tier fast."""
        return load_config(overrides).with_fast_tiers()


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if key == "tiers" and isinstance(value, dict):
            merged[key] = {
                **merged[key],
                **{
                    name: {**merged[key].get(name, {}), **tier} if isinstance(tier, dict) else tier
                    for name, tier in value.items()
                },
            }
        elif key == "faults" and isinstance(value, dict):
            merged[key] = {**merged[key], **value}
        elif key == "models" and isinstance(value, dict):
            merged[key] = {**value, **{name: tier for name, tier in merged[key].items() if name not in value}}
        elif key != "model_faults":
            merged[key] = value
    if isinstance(override.get("model_faults"), dict):
        own = {
            name: {**merged["faults"], **entry} if isinstance(entry, dict) else entry
            for name, entry in override["model_faults"].items()
        }
        merged["model_faults"] = {**merged.get("model_faults", {}), **own}
    elif "model_faults" in override:
        merged["model_faults"] = override["model_faults"]
    return merged


def load_config(source: MockConfig | dict[str, Any] | str | Path | None = None) -> MockConfig:
    """Build a config from the defaults overridden by a dict or a YAML file.

    Tiers (field by field), faults and models merge into the defaults; a config's
    own model names and patterns are tried before the built-in ones; each entry of
    ``model_faults`` starts from the merged ``faults``.
    """
    if isinstance(source, MockConfig):
        return source
    if source is None:
        return MockConfig()
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise ChatoptError(f"cannot read mock config {path}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise ChatoptError(f"{path} is not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise ChatoptError(
                f"{path} must hold a mapping", hint="see `chatopt mock-llm --help` for the format"
            )
        where = str(path)
    else:
        data, where = source, "mock config"
    try:
        return MockConfig.model_validate(_merge(MockConfig().model_dump(), _plain(data)))
    except ValidationError as exc:
        first = exc.errors()[0]
        location = ".".join(str(part) for part in first["loc"]) or "top level"
        raise ChatoptError(
            f"{where}: {location}: {first['msg']}", hint="fix the field or remove it to use the default"
        ) from exc
