"""Signed bearer tokens and the ``chatopt token`` command."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from chatopt.cli import app
from reference_server.auth import InvalidToken, identity_from_header, issue_token, verify_token
from reference_server.settings import DEV_SECRET

SECRET = "unit-test-secret"


def test_round_trip_carries_user_and_tier():
    identity = verify_token(SECRET, issue_token(SECRET, "alice", "premium"))
    assert (identity.user_id, identity.tier) == ("alice", "premium")


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda t: t + "x", "signature"),
        (lambda t: t.replace("v1.", "v2.", 1), "malformed"),
        (lambda t: "v1." + t.split(".")[2], "malformed"),
        (lambda t: "garbage", "malformed"),
    ],
)
def test_tampered_tokens_are_refused(mutate, reason):
    with pytest.raises(InvalidToken, match=reason):
        verify_token(SECRET, mutate(issue_token(SECRET, "alice")))


def test_payload_swap_is_a_signature_mismatch():
    alice = issue_token(SECRET, "alice")
    bob = issue_token(SECRET, "bob", "premium")
    forged = ".".join([alice.split(".")[0], bob.split(".")[1], alice.split(".")[2]])
    with pytest.raises(InvalidToken, match="signature"):
        verify_token(SECRET, forged)


def test_expired_and_wrong_secret():
    with pytest.raises(InvalidToken, match="expired"):
        verify_token(SECRET, issue_token(SECRET, "alice", ttl_s=60, now=1000), now=1061)
    with pytest.raises(InvalidToken, match="signature"):
        verify_token("another", issue_token(SECRET, "alice"))


def test_header_parsing():
    token = issue_token(SECRET, "carol")
    assert identity_from_header(SECRET, f"Bearer {token}").user_id == "carol"
    assert identity_from_header(SECRET, f"bearer  {token} ").user_id == "carol"
    for header in (None, "", "Basic abc", "Bearer", "Bearer "):
        with pytest.raises(InvalidToken):
            identity_from_header(SECRET, header)


@pytest.mark.parametrize(
    ("user", "tier", "ttl"), [("", "free", 60), ("u" * 129, "free", 60), ("u", "gold", 60), ("u", "free", 0)]
)
def test_issue_refuses_bad_arguments(user, tier, ttl):
    with pytest.raises(ValueError):
        issue_token(SECRET, user, tier, ttl)


def test_cli_prints_a_token_the_dev_server_accepts(monkeypatch):
    monkeypatch.delenv("CHATOPT_SECRET", raising=False)
    monkeypatch.setenv("CHATOPT_CONFIG", "/nonexistent/chatopt.toml")
    result = CliRunner().invoke(app, ["token", "--user", "dave", "--tier", "premium", "--ttl", "2h"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    identity = verify_token(DEV_SECRET, token)
    assert (identity.user_id, identity.tier) == ("dave", "premium")


def test_cli_uses_chatopt_secret(monkeypatch):
    monkeypatch.setenv("CHATOPT_SECRET", "prod-secret")
    monkeypatch.setenv("CHATOPT_CONFIG", "/nonexistent/chatopt.toml")
    result = CliRunner().invoke(app, ["token", "--user", "erin"])
    assert result.exit_code == 0, result.output
    assert verify_token("prod-secret", result.stdout.strip().splitlines()[-1]).user_id == "erin"


@pytest.mark.parametrize("args", [["--tier", "gold"], ["--ttl", "soon"], ["--ttl", "0"]])
def test_cli_bad_arguments_are_one_line_errors(args):
    from chatopt.errors import ChatoptError

    result = CliRunner().invoke(app, ["token", "--user", "x", *args])
    assert result.exit_code != 0
    assert isinstance(result.exception, ChatoptError)
