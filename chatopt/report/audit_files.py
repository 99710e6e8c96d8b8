"""Write an audit's three files: ``audit.json``, ``audit.md`` and ``audit.html``."""

from __future__ import annotations

from pathlib import Path

from chatopt.audit.findings import AuditResult
from chatopt.errors import ChatoptError
from chatopt.report.audit_html import audit_html
from chatopt.report.audit_markdown import audit_markdown


def write_audit_reports(result: AuditResult, out_dir: Path) -> list[Path]:
    """Write the reports into ``out_dir`` (created if needed); return their paths."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        files = {
            out_dir / "audit.json": result.to_json() + "\n",
            out_dir / "audit.md": audit_markdown(result),
            out_dir / "audit.html": audit_html(result),
        }
        for path, content in files.items():
            path.write_text(content, encoding="utf-8")
    except OSError as exc:
        raise ChatoptError(
            f"cannot write the audit reports to {out_dir}: {exc.strerror}",
            hint="pass a writable --out directory",
        ) from exc
    return list(files)
