"""Phase 0 forensic diagnosis: checks -> findings -> diagnosis and migration plan."""

from chatopt.audit.findings import SCHEMA, AuditResult, Finding, Impact, Stack
from chatopt.audit.runner import run_audit
from chatopt.audit.session import AuditOptions

__all__ = ["SCHEMA", "AuditOptions", "AuditResult", "Finding", "Impact", "Stack", "run_audit"]
