"""The shape every audit check shares: a stable id, a SPEC reference, one ``run``."""

from __future__ import annotations

import statistics
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from chatopt.audit.findings import Confidence, Finding, Impact, Severity, SpecRef, Status
from chatopt.audit.language import pick
from chatopt.audit.session import AuditSession


class Check(ABC):
    """One diagnostic: subclasses set the class attributes and implement :meth:`run`."""

    id: ClassVar[str]
    spec_ref: ClassVar[SpecRef]
    summary: ClassVar[str]
    intrusive: ClassVar[bool] = False
    intrusive_reason: ClassVar[str] = ""

    def __init__(self, session: AuditSession) -> None:
        self.session = session
        self.lang = session.options.lang

    @abstractmethod
    async def run(self) -> list[Finding]:
        """Probe the target and return this check's findings (at least one)."""

    def t(self, en: str, pt: str) -> str:
        return pick(self.lang, en, pt)

    def finding(
        self,
        status: Status,
        title: str,
        *,
        severity: Severity = "info",
        cause: str = "",
        evidence: dict[str, Any] | None = None,
        impact: Impact | None = None,
        fix: str = "",
        switch: str | None = None,
        confidence: Confidence = "medium",
        next_step: str = "",
        spec_ref: SpecRef | None = None,
    ) -> Finding:
        return Finding(
            check=self.id,
            spec_ref=spec_ref or self.spec_ref,
            status=status,
            severity=severity,
            title=title,
            cause=cause,
            evidence=evidence or {},
            impact=impact,
            fix=fix,
            switch=switch,
            confidence=confidence,
            next_step=next_step,
        )

    def not_enough_data(self, reason_en: str, reason_pt: str, **evidence: Any) -> Finding:
        return self.finding(
            "not_enough_data",
            self.t("Not enough data", "Dados insuficientes"),
            cause=self.t(reason_en, reason_pt),
            evidence=evidence,
            confidence="low",
        )


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)
