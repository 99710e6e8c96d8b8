"""What an audit produces: findings, the stack it saw, one traced turn, the whole result.

The JSON form (``audit.json``) is versioned by :data:`SCHEMA`; other tools may read it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

SCHEMA = "chatopt.audit/v1"

SpecRef = Literal[
    "P1",
    "P2",
    "P3",
    "P4",
    "P5",
    "P6",
    "P7",
    "rate-limit",
    "validation",
    "errors",
    "memory",
    "monitoring",
    "transport",
]
Severity = Literal["critical", "high", "medium", "low", "info"]
Status = Literal["problem", "ok", "not_enough_data", "skipped"]
Confidence = Literal["high", "medium", "low"]

SEVERITY_RANK: dict[str, int] = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}


class Impact(BaseModel):
    """What a problem costs, per request and per 1,000 requests."""

    ms_per_request: float | None = None
    tokens_per_1k_requests: float | None = None
    usd_per_1k_requests: float | None = None
    summary: str = ""


class Finding(BaseModel):
    """One check's verdict, with the numbers behind it and what to do about it."""

    check: str = Field(description="stable check id, e.g. streaming.present")
    spec_ref: SpecRef
    status: Status
    severity: Severity = "info"
    title: str
    cause: str = ""
    evidence: dict[str, Any] = Field(default_factory=dict)
    impact: Impact | None = None
    fix: str = ""
    switch: str | None = Field(None, description="reference-server switch that demonstrates the fix")
    confidence: Confidence = "medium"
    next_step: str = ""

    @property
    def is_problem(self) -> bool:
        return self.status == "problem"


class Stack(BaseModel):
    """What the audit could tell about the backend's stack."""

    url: str
    server: str | None = None
    powered_by: str | None = None
    http_version: str | None = None
    transport: str | None = None
    websocket_offered: bool | None = None
    content_type: str | None = None
    ai_api: str | None = None
    models: list[str] = Field(default_factory=list)
    runtime: str | None = None
    database: str | None = None
    cache: str | None = None

    def describe(self) -> str:
        """One line: framework/server, transport, AI API and models, storage."""
        parts = [self.server or "unknown server"]
        if self.powered_by:
            parts.append(self.powered_by)
        if self.runtime:
            parts.append(self.runtime)
        if self.transport:
            websocket = (
                " (WebSocket offered)" if self.websocket_offered and self.transport != "websocket" else ""
            )
            parts.append(f"{self.transport} over {self.http_version or 'HTTP'}{websocket}")
        if self.ai_api:
            models = f" ({', '.join(self.models)})" if self.models else ""
            parts.append(f"{self.ai_api}{models}")
        if self.database:
            parts.append(self.database)
        if self.cache:
            parts.append(self.cache)
        return ", ".join(parts)


class TracedCall(BaseModel):
    """An AI call inside a traced turn, in ms from the turn's start."""

    label: str
    start_ms: float
    ttft_ms: float | None = None
    end_ms: float
    status: int


class TurnTrace(BaseModel):
    """One user turn end to end: the client's view and the AI calls the tap saw."""

    label: str
    client_ttft_ms: float | None = None
    client_total_ms: float
    calls: list[TracedCall] = Field(default_factory=list)


class ContextPoint(BaseModel):
    """Prompt tokens the AI received on one turn of the scripted conversation."""

    turn: int
    prompt_tokens: int
    source: Literal["tap", "usage"]


class AuditResult(BaseModel):
    """Everything ``chatopt audit`` found; written as ``audit.json``."""

    schema_: str = Field(SCHEMA, alias="schema")
    target: dict[str, Any]
    stack: Stack
    lang: str = "en"
    started_at: str
    duration_s: float
    requests_sent: int
    tap_used: bool
    skipped_checks: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    findings: list[Finding]
    diagnosis: str = ""
    migration_plan: list[dict[str, Any]] = Field(default_factory=list)
    waterfall: TurnTrace | None = None
    context_growth: list[ContextPoint] = Field(default_factory=list)

    model_config = {"populate_by_name": True}

    @property
    def problems(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.is_problem]

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=2)
