"""Language codes for instrument translations, their names and writing direction."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

ENGLISH = "en"

# A BCP 47-like tag in lower case: a language, optionally a variant such as ``en-easyread``.
LanguageCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[a-z]{2,3}(-[a-z0-9]{2,12})*$"),
]

# Scripts written right to left: the page gets ``dir="rtl"`` in these languages.
RIGHT_TO_LEFT = frozenset({"ar", "dv", "fa", "he", "ks", "ku", "ckb", "ps", "sd", "ug", "ur", "yi"})

# Each language's name in itself, for the language choice (a translation may give its own).
NATIVE_NAMES = {
    "en": "English",
    "en-easyread": "Easy Read",
    "cy": "Cymraeg",
    "pl": "Polski",
    "ro": "Română",
    "ur": "اردو",
    "ar": "العربية",
    "bn": "বাংলা",
    "pa": "ਪੰਜਾਬੀ",
    "lt": "Lietuvių",
    "pt": "Português",
    "so": "Soomaali",
    "tr": "Türkçe",
    "uk": "Українська",
}


def is_rtl(code: str) -> bool:
    """Whether ``code`` (e.g. ``ur``, ``ur-pk``) is written right to left."""
    return code.split("-", 1)[0] in RIGHT_TO_LEFT


def html_lang(code: str) -> str:
    """The value for an HTML ``lang`` attribute: a private variant such as ``easyread`` is
    not a registered subtag, so it is marked as private use (``en-x-easyread``)."""
    base, _, variant = code.partition("-")
    if variant and len(variant) > 8 or variant == "easyread":
        return f"{base}-x-{variant[:8]}"
    return code
