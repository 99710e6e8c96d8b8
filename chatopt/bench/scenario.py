"""Load scenarios: who says what, in which order, with how much thinking in between.

A scenario is YAML (``scenarios/<name>.yaml`` or any file)::

    name: faq
    description: repeated questions and their paraphrases
    think_time_s: [1, 3]        # pause between turns (uniform min..max); also between conversations
    conversations:
      - name: reset-password
        weight: 3               # picked 3x as often as weight 1
        turns:
          - ["How do I reset my password?", "how can i reset my password"]  # one paraphrase is picked
          - "And if I no longer have access to my email?"
    load: {users: 20, spawn_rate: 5, duration: 60s}   # defaults the command line overrides
    target: reference-ws        # optional: the profile this scenario is meant for
"""

from __future__ import annotations

import random
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from chatopt.errors import ChatoptError


class Conversation(BaseModel):
    """A scripted conversation; each turn is a message or a list of paraphrases."""

    model_config = ConfigDict(extra="forbid")

    name: str = ""
    weight: float = Field(1.0, gt=0)
    language: str = "en"
    turns: list[str | list[str]] = Field(min_length=1)

    @field_validator("turns")
    @classmethod
    def _no_empty_turns(cls, turns: list[str | list[str]]) -> list[str | list[str]]:
        for index, turn in enumerate(turns):
            options = [turn] if isinstance(turn, str) else turn
            if not options or not all(isinstance(text, str) and text.strip() for text in options):
                raise ValueError(f"turn {index} has no message text")
        return turns

    def messages(self, rng: random.Random) -> list[str]:
        """The turns with one paraphrase picked for each."""
        return [turn if isinstance(turn, str) else rng.choice(turn) for turn in self.turns]


class Scenario(BaseModel):
    """A named mix of conversations with think time and default load."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    think_time_s: tuple[float, float] = (0.0, 0.0)
    conversations: list[Conversation] = Field(min_length=1)
    load: dict[str, Any] = Field(default_factory=dict)
    target: str | None = None
    source: str = ""

    @field_validator("think_time_s", mode="before")
    @classmethod
    def _think_range(cls, value: Any) -> Any:
        if isinstance(value, int | float):
            return (value, value)
        return value

    def pick(self, rng: random.Random) -> Conversation:
        """A conversation chosen by weight."""
        return rng.choices(self.conversations, weights=[c.weight for c in self.conversations])[0]

    def think(self, rng: random.Random) -> float:
        low, high = self.think_time_s
        return rng.uniform(low, high) if high > low else low


def scenarios_dir() -> Path:
    """The bundled ``scenarios/`` folder (next to the package in a source checkout)."""
    return Path(str(resources.files("chatopt"))).parent / "scenarios"


def builtin_scenarios() -> list[str]:
    directory = scenarios_dir()
    return sorted(path.stem for path in directory.glob("*.yaml")) if directory.is_dir() else []


def load_scenario(spec: str) -> Scenario:
    """A scenario from a bundled name (``faq``) or a YAML file path."""
    path = Path(spec)
    if not path.is_file():
        path = scenarios_dir() / f"{spec}.yaml"
    if not path.is_file():
        names = ", ".join(builtin_scenarios()) or "none found"
        raise ChatoptError(f"unknown scenario {spec!r}", hint=f"use a YAML file or one of: {names}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ChatoptError(f"cannot read scenario {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ChatoptError(f"{path} must hold a mapping", hint="see scenarios/faq.yaml for the format")
    data.setdefault("name", path.stem)
    data["source"] = str(path)
    try:
        return Scenario(**data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ChatoptError(f"{path}: {where}: {first['msg']}", hint="see scenarios/faq.yaml") from exc
