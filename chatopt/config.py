"""User settings: CLI flags > ``CHATOPT_*`` environment variables > ``chatopt.toml``.

Commands take their options from the CLI; an option left unset falls back to the
environment, then to ``chatopt.toml`` in the working directory (or the file named
by ``CHATOPT_CONFIG``), then to the default here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from chatopt.errors import ChatoptError


def config_path() -> Path:
    """The TOML file read for settings (it need not exist)."""
    return Path(os.environ.get("CHATOPT_CONFIG", "chatopt.toml"))


class ChatoptSettings(BaseSettings):
    """Settings shared by chatopt commands."""

    model_config = SettingsConfigDict(env_prefix="CHATOPT_", extra="ignore")

    secret: str | None = None
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    redis_url: str | None = None
    database_url: str | None = None
    out_dir: Path = Path("reports")
    host: str = "127.0.0.1"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=config_path()))


def load_settings(**cli_overrides: Any) -> ChatoptSettings:
    """Settings with CLI overrides applied (``None`` means "not given on the CLI")."""
    given = {key: value for key, value in cli_overrides.items() if value is not None}
    try:
        return ChatoptSettings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise ChatoptError(
            f"invalid setting {field!r}: {first['msg']}",
            hint=f"check the CHATOPT_{field.upper()} variable or {config_path()}",
        ) from exc
    except Exception as exc:  # malformed TOML
        raise ChatoptError(f"cannot read {config_path()}: {exc}", hint="fix or remove the file") from exc
