"""Every phone espeak-ng (bundled with Piper) makes for sample sentences in 20 of Piper's languages maps to a
viseme by a documented rule (lipsync/visemes.py), not by the catch-all fallback. The sentences are the table in
docs/text.md, "Languages"."""

import re
from collections import Counter
from pathlib import Path

import pytest
from piper.phonemize_espeak import EspeakPhonemizer

from avatar_service.lipsync import visemes
from avatar_service.text.language import Language
from avatar_service.text.normalize import normalize

DOC = Path(__file__).resolve().parents[2] / "docs" / "text.md"


def language_samples() -> list[tuple[str, str]]:
    section = DOC.read_text(encoding="utf-8").split("## Languages", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| [^|]+ \| `([^`]+)` \| (.+?) \|$", section, flags=re.MULTILINE)


@pytest.fixture(scope="module")
def phonemizer() -> EspeakPhonemizer:
    return EspeakPhonemizer()


def test_at_least_ten_languages_are_sampled():
    assert len(language_samples()) >= 10


@pytest.mark.parametrize(("espeak_voice", "sentence"), language_samples())
def test_phones_map_to_visemes_by_a_documented_rule(phonemizer, espeak_voice, sentence):
    text = normalize(sentence, Language.from_espeak_voice(espeak_voice))
    tokens = [token for clause in phonemizer.phonemize(espeak_voice, text) for token in clause]
    phones = [
        token for token in tokens
        if token != visemes.WORD_GAP and token not in visemes.STRESS_MARKS
        and not visemes.is_modifier(token) and not visemes.is_pause(token)
    ]
    unmapped = Counter(phone for phone in phones if not visemes.has_rule(phone))

    assert len(phones) >= 30, tokens  # a real sentence came out, not espeak-ng's fallback for an unknown voice
    assert sum(unmapped.values()) <= 0.01 * len(phones), unmapped
