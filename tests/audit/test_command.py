"""``chatopt audit`` from the command line: YAML target, tap, Portuguese report, three files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from chatopt.audit.checks import ALL_CHECKS
from chatopt.audit.runner import intrusive_probes, planned_checks
from chatopt.audit.session import AuditOptions
from chatopt.errors import ChatoptError
from tests.audit.backends import ndjson_app
from tests.services import free_port
from tests.tap.helpers import serve


def test_audit_command_writes_reports_in_portuguese(tmp_path: Path, mock_llm) -> None:
    tap_port = free_port()
    profile = tmp_path / "ndjson.yaml"
    profile.write_text(
        yaml.safe_dump(
            {
                "path": "/stream",
                "body": {"messages": "{messages}"},
                "mode": "ndjson",
                "history": "client",
                "delta_path": "delta",
                "usage_path": None,
                "done_sentinel": None,
            }
        )
    )
    out = tmp_path / "report"
    with serve(ndjson_app(f"http://127.0.0.1:{tap_port}/v1")) as url:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "chatopt",
                "audit",
                url,
                "--target",
                str(profile),
                "--tap-port",
                str(tap_port),
                "--tap-upstream",
                mock_llm.base_url,
                "--out",
                str(out),
                "--lang",
                "pt-BR",
                "--skip-intrusive",
                "--skip",
                "concurrency.scaling",
                "--max-seconds",
                "30",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 0, result.stderr
    data = json.loads((out / "audit.json").read_text())
    assert data["schema"] == "chatopt.audit/v1" and data["lang"] == "pt-BR"
    assert data["target"]["url"].endswith("/stream") and data["stack"]["transport"] == "ndjson"
    assert {f["check"] for f in data["findings"]} == {check.id for check in ALL_CHECKS}
    skipped = {f["check"] for f in data["findings"] if f["status"] == "skipped"}
    assert skipped == {"input.limits", "errors.upstream", "ratelimit.burst", "concurrency.scaling"}
    assert data["diagnosis"].startswith("Analisado: ")
    assert "Plano de migração" in (out / "audit.md").read_text()
    html = (out / "audit.html").read_text()
    assert html.count("<img alt=") == 2 and "lang='pt-BR'" in html
    assert (out / "tap-trace.jsonl").read_text().count("\n") >= 7
    assert "Analisado" in result.stdout and "auditoria chatopt" in result.stdout


def test_audit_command_explains_an_unreachable_target(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "chatopt",
            "audit",
            f"http://127.0.0.1:{free_port()}",
            "--target",
            "reference",
            "--out",
            str(tmp_path),
            "--skip-intrusive",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "cannot reach" in result.stderr and "Traceback" not in result.stderr


def test_intrusive_probes_are_listed_and_unknown_checks_rejected() -> None:
    probes = dict(intrusive_probes(AuditOptions()))
    assert set(probes) == {"input.limits", "errors.upstream", "ratelimit.burst"}
    assert intrusive_probes(AuditOptions(skip_intrusive=True)) == []
    with pytest.raises(ChatoptError, match="unknown check id"):
        planned_checks(AuditOptions(skip=frozenset({"no.such.check"})))


def test_list_checks_prints_every_check_id() -> None:
    from typer.testing import CliRunner

    from chatopt.cli import app

    result = CliRunner().invoke(app, ["audit", "--list-checks"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert all(check.id in result.output for check in ALL_CHECKS)
