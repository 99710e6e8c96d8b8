"""The report languages: English and Brazilian Portuguese."""

from __future__ import annotations

from chatopt.errors import ChatoptError

LANGUAGES = ("en", "pt-BR")


def check_language(lang: str) -> str:
    """``lang`` if supported, else a clear error."""
    if lang not in LANGUAGES:
        raise ChatoptError(f"unsupported language {lang!r}", hint=f"use one of: {', '.join(LANGUAGES)}")
    return lang


def pick(lang: str, en: str, pt: str) -> str:
    """The English or Portuguese text, by ``lang``."""
    return pt if lang == "pt-BR" else en
