"""Written text → the words a speaker would say, before espeak-ng turns them into phonemes.

espeak-ng reads plain words, plain numbers and most symbols (``%``, ``&``, ``+``) well in the voice's own language,
but reads ``$5`` as "dollar five", ``3/4/2025`` with "slash", ``Dr.`` as the end of a sentence and emoji by their
Unicode names. Each rule below fixes one such case and leaves everything else to espeak-ng. Number words come from
num2words in the voice's language; a language num2words does not know keeps its digits (espeak-ng reads them).
The rules and one example of each are the table in docs/text.md, which the tests read.
"""

import re
import unicodedata
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from babel.core import UnknownLocaleError
from babel.dates import get_month_names
from num2words import CONVERTER_CLASSES, num2words

from avatar_service.errors import InvalidInput
from avatar_service.text.language import Language

CURRENCY_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR"}
# Symbols espeak-ng speaks in the voice's language (checked: "%" → "percent", "prozent"; "°" → "degrees").
SPOKEN_SYMBOLS = frozenset("%&+=°#@/")
# Longer digit strings are identifiers (phone, account and order numbers): read one digit at a time.
MAX_CARDINAL_DIGITS = 12

# Titles and abbreviations that espeak-ng reads letter by letter or as a sentence end. A title keeps no dot, so
# the name after it stays in the same sentence.
ABBREVIATIONS: dict[str, dict[str, str]] = {
    "en": {
        "Dr.": "Doctor", "Mr.": "Mister", "Mrs.": "Missus", "Ms.": "Miz", "Prof.": "Professor",
        "Jr.": "Junior", "Sr.": "Senior", "St.": "Saint", "Mt.": "Mount", "vs.": "versus",
        "e.g.": "for example", "i.e.": "that is", "etc.": "et cetera", "approx.": "approximately",
        "No.": "number", "Inc.": "Incorporated", "Ltd.": "Limited",
    },
    "de": {
        "Dr.": "Doktor", "Prof.": "Professor", "Hr.": "Herr", "Fr.": "Frau", "Nr.": "Nummer",
        "z.B.": "zum Beispiel", "z. B.": "zum Beispiel", "usw.": "und so weiter", "bzw.": "beziehungsweise",
        "ca.": "circa", "d.h.": "das heißt",
    },
    "fr": {"M.": "Monsieur", "Mme": "Madame", "Mlle": "Mademoiselle", "Dr": "Docteur", "etc.": "et cetera"},
    "es": {"Sr.": "Señor", "Sra.": "Señora", "Dr.": "Doctor", "Dra.": "Doctora", "etc.": "etcétera"},
}

EMAIL = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
URL = r"(?:https?://|www\.)[^\s<>\"]+[^\s<>\".,;:!?)\]]"
PROTECTED = re.compile(f"({EMAIL}|{URL})", re.IGNORECASE)
SCHEME = re.compile(r"^(?:https?://)?(?:www\.)?", re.IGNORECASE)

ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
NUMERIC_DATE = re.compile(r"\b(\d{1,2})([/.])(\d{1,2})\2(\d{4}|\d{2})\b")
TIME = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)(?:\s?([ap])\.?\s?m\.?(?=\W|$))?", re.IGNORECASE)
ORDINAL_SUFFIXES = {"en": r"st|nd|rd|th", "fr": r"er|re|e|ème", "es": r"º|ª|o|a", "it": r"º|ª", "pt": r"º|ª"}
# How a date is said where it is not "day month year" (the words between are part of the language's grammar).
DATE_ORDER = {"es": "{day} de {month} de {year}", "pt": "{day} de {month} de {year}", "ca": "{day} de {month} de {year}"}
REPEATED_STOPS = re.compile(r"[.!?…]*[!?][.!?…]*|[.…]{2,}")
REPEATED_COMMAS = re.compile(r"\s*(,\s*){2,}")


def number_pattern(language: Language) -> str:
    """A written number with optional thousands groups and decimals, in the language's convention."""
    group, point = (r"\.", ",") if language.decimal_comma else (",", r"\.")
    return rf"\d{{1,3}}(?:{group}\d{{3}})+(?:{point}\d+)?|\d+(?:{point}\d+)?"


def normalize(text: str, language: Language) -> str:
    """The words to speak for ``text``; raises InvalidInput when nothing speakable is left."""
    result = to_words(text, language)
    if not is_speakable(result):
        raise InvalidInput("text", "nothing speakable in it (only punctuation, symbols or emoji)")
    return result


def to_words(text: str, language: Language) -> str:
    """The words to speak for ``text``, possibly none (see ``is_speakable``)."""
    parts = PROTECTED.split(drop_symbols(unicodedata.normalize("NFC", text)))
    spoken = [
        spoken_address(part) if index % 2 else normalize_words(part, language)
        for index, part in enumerate(parts)
    ]
    return re.sub(r"\s+([.,!?;:])", r"\1", re.sub(r"\s+", " ", "".join(spoken))).strip()


def is_speakable(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def drop_symbols(text: str) -> str:
    """Emoji and pictographs are dropped (a speaker does not say "grinning face"); control characters become
    spaces. Symbols espeak-ng speaks in the voice's language, currency signs and letters of any script stay."""
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch in SPOKEN_SYMBOLS or ch in CURRENCY_SYMBOLS:
            kept.append(ch)
        elif category in ("So", "Sk", "Cs", "Co", "Cn", "Cc") or ch in "\u200d\ufe0f\ufe0e":
            kept.append(" ")
        else:
            kept.append(ch)
    return "".join(kept)


def spoken_address(address: str) -> str:
    """URLs lose the scheme, "www." and a trailing slash; espeak-ng reads the rest ("dot", "slash", "at")."""
    return " " + SCHEME.sub("", address).rstrip("/") + " "


def normalize_words(text: str, language: Language) -> str:
    text = expand_abbreviations(text, language)
    text = REPEATED_STOPS.sub(lambda m: "?" if "?" in m.group() else ("!" if "!" in m.group() else "."), text)
    text = REPEATED_COMMAS.sub(", ", text)
    if language.number_words is None:
        return currency_after_number(text, language)
    for rule in (dates, times, currency, ordinals, numbers):
        text = rule(text, language)
    return text


def expand_abbreviations(text: str, language: Language) -> str:
    for written, spoken in ABBREVIATIONS.get(language.code, {}).items():
        text = re.sub(rf"(?<![\w.]){re.escape(written)}(?=\s|$)", spoken, text)
    return text


# --- numbers ------------------------------------------------------------------------------------------------


# What num2words' converters raise for a value or form they do not implement in some language.
NUM2WORDS_GAPS = (NotImplementedError, TypeError, KeyError, IndexError, AttributeError, OverflowError)


def words(value: int | Decimal, language: Language, to: str = "cardinal") -> str:
    """num2words without the commas it puts between groups (espeak-ng would pause at each); a number it cannot
    say in this language keeps its digits, which espeak-ng reads."""
    try:
        return num2words(value, lang=language.number_words, to=to).replace(",", "")
    except NUM2WORDS_GAPS:
        return str(value)


def parse_number(written: str, language: Language) -> Decimal:
    group, point = (".", ",") if language.decimal_comma else (",", ".")
    return Decimal(written.replace(group, "").replace(point, "."))


def spoken_number(written: str, language: Language) -> str:
    digits = written.replace(",", "").replace(".", "")
    if len(digits) > MAX_CARDINAL_DIGITS or (len(written) > 1 and written[0] == "0" and written[1].isdigit()):
        return " ".join(words(int(digit), language) for digit in digits)
    point = "," if language.decimal_comma else "."
    value = parse_number(written, language)
    return words(value if point in written else int(value), language)


def numbers(text: str, language: Language) -> str:
    return _sub(rf"(?<![\w]){number_pattern(language)}(?![\w])", text, lambda m: spoken_number(m.group(), language))


def ordinals(text: str, language: Language) -> str:
    suffixes = ORDINAL_SUFFIXES.get(language.code)
    if suffixes is None:
        return text
    return _sub(
        rf"\b(\d+)(?:{suffixes})(?!\w)", text, lambda m: words(int(m.group(1)), language, to="ordinal")
    )


def currency(text: str, language: Language) -> str:
    """``$1,234.56``, ``12,50 €`` and ``€5 million`` → the amount in words followed by the currency's name."""
    number = number_pattern(language)
    symbols = "".join(re.escape(symbol) for symbol in CURRENCY_SYMBOLS)
    scale = r"(?:\s(million|billion|trillion|thousand))?"
    before = rf"([{symbols}])({number}){scale}"
    after = rf"({number})\s?([{symbols}])"
    text = _sub(before, text, lambda m: spoken_amount(m.group(2), m.group(1), m.group(3), language))
    return _sub(after, text, lambda m: spoken_amount(m.group(1), m.group(2), None, language))


def spoken_amount(written: str, symbol: str, scale: str | None, language: Language) -> str:
    code = CURRENCY_SYMBOLS[symbol]
    amount = parse_number(written, language)
    forms = getattr(CONVERTER_CLASSES[language.number_words], "CURRENCY_FORMS", {}).get(code)
    if forms is None:
        # num2words has no name for it in this language: number words, then the sign for espeak-ng to name.
        return f"{spoken_number(written, language)} {scale or ''} {symbol}"
    if scale or amount == amount.to_integral_value():
        # forms[0] is (singular, plural) or, in Slavic languages, (singular, few, many): the last is the plural.
        unit = forms[0][0] if amount == 1 and not scale else forms[0][-1]
        return " ".join(filter(None, (spoken_number(written, language), scale, unit)))
    try:
        return num2words(amount, lang=language.number_words, to="currency", currency=code).replace(",", "")
    except NUM2WORDS_GAPS:
        return f"{spoken_number(written, language)} {symbol}"


def currency_after_number(text: str, language: Language) -> str:
    """Without number words, put the sign after the digits, where espeak-ng reads it as the currency name."""
    symbols = "".join(re.escape(symbol) for symbol in CURRENCY_SYMBOLS)
    return _sub(rf"([{symbols}])({number_pattern(language)})", text, lambda m: f"{m.group(2)} {m.group(1)}")


# --- dates and times ----------------------------------------------------------------------------------------


def spoken_date(day: date, language: Language) -> str:
    """en: "March fourth twenty twenty-five"; de: "vierte März …"; others: "4 mars 2025" in words."""
    month = month_name(day.month, language)
    if language.code == "en":
        return f"{month} {words(day.day, language, 'ordinal')} {words(day.year, language, 'year')}"
    day_words = words(day.day, language, "ordinal" if language.code == "de" else "cardinal")
    return DATE_ORDER.get(language.code, "{day} {month} {year}").format(
        day=day_words, month=month, year=words(day.year, language)
    )


def month_name(month: int, language: Language) -> str:
    """From Babel's CLDR data: the regional locale, else the language's; ValueError if CLDR has neither (the
    date then stays as written)."""
    locales = [f"{language.code}_{language.region.upper()}"] if language.region else []
    for locale in [*locales, language.code]:
        try:
            return get_month_names("wide", locale=locale)[month]
        except (UnknownLocaleError, ValueError, LookupError):
            continue
    raise ValueError(f"no month names for {language.code}")


def dates(text: str, language: Language) -> str:
    def iso(match: re.Match) -> str:
        return _date_or_original(match, int(match.group(1)), int(match.group(2)), int(match.group(3)), language)

    def numeric(match: re.Match) -> str:
        first, second, year = int(match.group(1)), int(match.group(3)), int(match.group(4))
        if len(match.group(4)) == 2:
            year += 2000
        month, day = (first, second) if language.month_first else (second, first)
        return _date_or_original(match, year, month, day, language)

    return NUMERIC_DATE.sub(numeric, ISO_DATE.sub(iso, text))


def _date_or_original(match: re.Match, year: int, month: int, day: int, language: Language) -> str:
    try:
        return spoken_date(date(year, month, day), language)
    except ValueError:  # not a calendar date (e.g. a version number 1.2.33): leave it to the number rule
        return match.group()


def spoken_time(hour: int, minute: int, half: str | None, language: Language) -> str:
    """en: 10:05 → "ten oh five", 10:00 → "ten o'clock", 3:30 pm → "three thirty p m"; others: hours and
    minutes as numbers."""
    if language.code != "en":
        return words(hour, language) + ("" if minute == 0 else " " + words(minute, language))
    if minute == 0:
        spoken = f"{words(hour, language)} o'clock" if half is None else words(hour, language)
    elif minute < 10:
        spoken = f"{words(hour, language)} oh {words(minute, language)}"
    else:
        spoken = f"{words(hour, language)} {words(minute, language)}"
    return spoken + (f" {half.lower()} m" if half else "")


def times(text: str, language: Language) -> str:
    return TIME.sub(lambda m: spoken_time(int(m.group(1)), int(m.group(2)), m.group(3), language), text)


# --- SSML <say-as> ------------------------------------------------------------------------------------------


def say_as(kind: str, text: str, language: Language, date_format: str = "ymd") -> str:
    """``<say-as interpret-as=kind>``: characters are spelled, cardinals, ordinals and dates read as words."""
    text = text.strip()
    if kind == "characters":
        # Joined by hyphens espeak-ng names each letter ("A-B-C"), where spaces would read a lone "A" as "uh".
        letters = [words(int(ch), language) if ch.isdigit() and language.number_words else ch for ch in text]
        return "-".join(letter for letter in letters if letter.isalnum() or " " in letter)
    if kind in ("cardinal", "ordinal"):
        if not re.fullmatch(number_pattern(language), text):
            raise InvalidInput("text", f"SSML <say-as interpret-as={kind!r}>: {text!r} is not a number")
        if language.number_words is None:
            return text
        if kind == "ordinal":
            return words(int(parse_number(text, language)), language, "ordinal")
        return spoken_number(text, language)
    parts = [int(part) for part in re.split(r"[-/.]", text) if part.isdigit()]
    try:
        if len(parts) != 3:
            raise ValueError(text)
        fields = dict(zip(date_format, parts))  # e.g. "mdy" → {"m": 3, "d": 4, "y": 2025}
        return spoken_date(date(fields["y"], fields["m"], fields["d"]), language)
    except ValueError:
        raise InvalidInput(
            "text", f"SSML <say-as interpret-as='date' format={date_format!r}>: {text!r} is not such a date"
        ) from None


def _sub(pattern: str, text: str, replace: Callable[[re.Match], str]) -> str:
    return re.sub(pattern, lambda match: f" {replace(match)} ", text)
