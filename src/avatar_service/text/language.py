"""Which written conventions a voice's text follows, from the espeak-ng voice name in its ``.onnx.json``.

Piper voices name the espeak-ng voice they were trained with (``"espeak": {"voice": "en-us"}``); its first part
is the ISO 639-1 language and the second, if any, the region (espeak-ng's ``docs/languages.md``).
"""

from dataclasses import dataclass

from num2words import CONVERTER_CLASSES

# Languages that write 1.234,56 rather than 1,234.56 (CLDR number symbols, "decimal" and "group").
DECIMAL_COMMA = frozenset(
    [
        "az", "be", "ca", "cs", "da", "de", "el", "es", "eu", "fi", "fr", "gl", "hr", "hu", "id", "is", "it",
        "ka", "kk", "lb", "lt", "lv", "nl", "no", "nb", "pl", "pt", "ro", "ru", "sk", "sl", "sr", "sv", "tr",
        "uk", "vi"
    ]
)


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1, e.g. "en"
    region: str | None = None  # e.g. "us", "gb", "br"

    @classmethod
    def from_espeak_voice(cls, voice: str) -> "Language":
        """``"en-us"`` → en/us, ``"en-gb-x-rp"`` → en/gb, ``"pt-br"`` → pt/br, ``"cmn"`` → cmn."""
        parts = voice.lower().replace("_", "-").split("-")
        region = parts[1] if len(parts) > 1 and len(parts[1]) == 2 else None
        return cls(parts[0], region)

    @property
    def number_words(self) -> str | None:
        """The num2words language for this voice (its regional variant if it has one), or None when num2words
        does not know the language: digits are then left for espeak-ng, which reads them in the voice's
        language itself."""
        regional = f"{self.code}_{self.region.upper()}" if self.region else None
        if regional in CONVERTER_CLASSES:
            return regional
        return self.code if self.code in CONVERTER_CLASSES else None

    @property
    def decimal_comma(self) -> bool:
        return self.code in DECIMAL_COMMA

    @property
    def month_first(self) -> bool:
        """Whether 3/4/2025 is March 4 (United States usage) rather than 3 April."""
        return self.code == "en" and self.region == "us"
