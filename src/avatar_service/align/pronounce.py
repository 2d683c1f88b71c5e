"""Pronunciations for transcript words the CMU dictionary lacks (names, brands, new words), from espeak-ng.

Piper bundles espeak-ng (``piper.phonemize_espeak``), the same phonemizer that makes Piper's own phones; its
IPA is turned into ARPAbet through the one phone table (``lipsync.visemes.ARPABET_TO_IPA``, read backwards),
so a word like "Zorblax" aligns instead of failing the request.
"""

from avatar_service.lipsync.visemes import ARPABET_TO_IPA

ESPEAK_VOICE = "en-us"
# IPA that espeak-ng writes for American English but the table does not list (it maps ARPAbet to one IPA
# symbol each): reduced and r-coloured vowels, the flap and the glottal stop, and the affricates, which the
# table keeps as their fricative part.
_EXTRA_IPA: dict[tuple[str, ...], str] = {
    ("t", "ʃ"): "CH", ("d", "ʒ"): "JH", ("ə",): "AH", ("ɐ",): "AH", ("ɚ",): "ER", ("ɜ",): "ER", ("ᵻ",): "IH",
    ("ɾ",): "T", ("ʔ",): "T", ("ɔ",): "AO", ("ʃ",): "SH", ("ʒ",): "ZH", ("ɡ",): "G", ("g",): "G",
}
_IPA_TO_ARPABET: dict[tuple[str, ...], str] = {
    **{ipa: arpabet for arpabet, ipa in ARPABET_TO_IPA.items()},
    **_EXTRA_IPA,
}
_LONGEST = max(len(key) for key in _IPA_TO_ARPABET)


def arpabet_for(ipa_tokens: list[str]) -> list[str]:
    """ARPAbet phones for espeak's IPA tokens: longest match first (diphthongs, affricates); stress and length
    marks and repeated symbols (espeak doubles the r of "Clara") dropped; unknown symbols skipped."""
    tokens = [token for token in ipa_tokens if token.isalpha() or token in "ɾʔ"]
    phones: list[str] = []
    index = 0
    while index < len(tokens):
        for size in range(_LONGEST, 0, -1):
            phone = _IPA_TO_ARPABET.get(tuple(tokens[index:index + size]))
            if phone is not None:
                if not phones or phones[-1] != phone:
                    phones.append(phone)
                index += size
                break
        else:
            index += 1
    return phones


def pronunciations(words: list[str]) -> dict[str, str]:
    """ARPAbet pronunciation (space-separated, as pocketsphinx's dictionary holds them) for each word."""
    from piper.phonemize_espeak import EspeakPhonemizer

    phonemizer = EspeakPhonemizer()
    result = {}
    for word in words:
        tokens = [token for sentence in phonemizer.phonemize(ESPEAK_VOICE, word) for token in sentence]
        phones = arpabet_for(tokens)
        if phones:
            result[word] = " ".join(phones)
    return result
