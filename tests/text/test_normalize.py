"""Normalization against the examples table in docs/text.md (one source of truth) and its edge rules."""

import re
from pathlib import Path

import pytest

from avatar_service.errors import InvalidInput
from avatar_service.text.language import Language
from avatar_service.text.normalize import normalize
from avatar_service.text.prepare import check, prepare

DOC = Path(__file__).resolve().parents[2] / "docs" / "text.md"


def doc_examples() -> list[tuple[str, str, str]]:
    section = DOC.read_text(encoding="utf-8").split("## Examples", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \| (.+?) \| (.+?) \|$", section, flags=re.MULTILINE)
    return rows


def test_the_docs_table_has_examples_of_every_rule():
    assert len(doc_examples()) >= 15


@pytest.mark.parametrize(("voice", "written", "spoken"), doc_examples())
def test_docs_example(voice, written, spoken):
    assert normalize(written, Language.from_espeak_voice(voice)) == spoken


@pytest.mark.parametrize("text", ["...", "?!... ,,,", "😀👍", " <> "])
def test_nothing_speakable_is_refused_whatever_the_punctuation(text):
    with pytest.raises(InvalidInput) as raised:
        normalize(text, Language("en", "us"))
    assert raised.value.field == "text"


def test_language_without_number_words_keeps_digits_for_espeak():
    assert normalize("Pris 5", Language("cmn")) == "Pris 5"


def test_plain_words_are_untouched():
    text = "The quick brown fox jumps over the lazy dog."
    assert normalize(text, Language("en", "us")) == text


@pytest.mark.parametrize("code", sorted(__import__("num2words").CONVERTER_CLASSES))
def test_every_num2words_language_normalizes_without_crashing(code):
    # num2words' converters differ in what they implement: a gap keeps the digits, never fails the render.
    text = "On 2025-03-04 at 10:30, 1st: $1,234.56, 12,50 €, 3.5 or 3,5 and 0800."
    assert normalize(text, Language.from_espeak_voice(code))


@pytest.mark.parametrize(
    "text",
    ["...", "?!... ,,,", "😀", "Hi", "$5", "<speak><break time='1s'/></speak>", "<speak>..</speak>",
     "<speak><say-as interpret-as='cardinal'>12</say-as></speak>", "<speak><sub alias='x'>y</sub></speak>"],
)
def test_the_cheap_request_check_agrees_with_the_full_preparation(text):
    language = Language("en", "us")
    try:
        prepare(text, language)
        refused = None
    except InvalidInput as error:
        refused = error.message
    if refused is None:
        check(text, language)
    else:
        with pytest.raises(InvalidInput, match="nothing speakable"):
            check(text, language)
