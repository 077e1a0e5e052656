"""Language tags, read one way everywhere: "pt-BR", "pt_br " and "PT-BR" are one tag; "pt" is its
primary subtag (the language family the normalizer, Whisper and the voices key on); no tag, ""
or "auto" asks for detection."""

from __future__ import annotations

AUTO = "auto"


def tag_key(tag: str) -> str:
    """The form tags are compared in: 'pt_BR ' → 'pt-br'."""
    return tag.strip().replace("_", "-").lower()


def language_family(tag: str | None) -> str:
    """The primary subtag: 'pt-BR' → 'pt', 'en_US' → 'en'; '' for none."""
    return tag_key(tag or "").split("-")[0]


def is_auto(tag: str | None) -> bool:
    """No language given, or "auto": detect it."""
    return tag is None or tag_key(tag) in ("", AUTO)
