"""The IPA → viseme table.

Seven mouth shapes: REST (closed, relaxed), AA (open jaw), EE (spread lips), OH (rounded, open), OO (rounded,
small), FF (lower lip under upper teeth), TH (tongue tip between teeth). Each phone maps either to a fixed
shape and weight (how open/strong it is), or — for consonants the lips barely shape (t, k, n, h …) — to the
shape of the nearest vowel at a reduced weight, because the lips are already moving to that vowel
(coarticulation; Rhubarb Lip Sync picks the least-effort shape for such phones the same way).

| phones                         | viseme | weight | why                                          |
|--------------------------------|--------|--------|----------------------------------------------|
| ɑ a ä                          | AA     | 1.0    | open back/central vowels: widest jaw         |
| æ                              | AA     | 0.9    |                                              |
| ʌ ɒ                            | AA     | 0.8    |                                              |
| ɐ                              | AA     | 0.65   | reduced "a"                                  |
| ə ɜ ɘ ɵ                        | AA     | 0.45   | schwa-like: half open                        |
| i y                            | EE     | 0.9    | close front: lips spread                     |
| e ø œ                          | EE     | 0.8    | mid front                                    |
| ɛ                              | AA     | 0.7    | open-mid: the jaw drops more than for e      |
| ɪ ᵻ ɨ ʏ                        | EE     | 0.65   | lax front                                    |
| j ɥ                            | EE     | 0.55   | glides toward i                              |
| ɔ                              | OH     | 1.0    | open rounded                                 |
| o                              | OH     | 0.9    |                                              |
| ɚ ɝ                            | OH     | 0.5    | r-coloured schwa: lips slightly rounded      |
| u ɯ                            | OO     | 1.0    | close rounded                                |
| ʊ                              | OO     | 0.75   |                                              |
| w                              | OO     | 0.9    | rounded glide                                |
| ɹ r ʁ ʀ                        | OO     | 0.45   | English r rounds the lips a little           |
| ʃ ʒ ʂ ʐ                        | OO     | 0.5    | lips protrude for sh/zh                      |
| f v ɱ                          | FF     | 1.0    | labiodentals                                 |
| ʋ                              | FF     | 0.7    | labiodental approximant (Dutch w)            |
| θ ð                            | TH     | 1.0    | dentals                                      |
| p b m ɸ β                      | REST   | 0.0    | bilabials close the mouth                    |
| s z ɕ ʑ                        | EE     | 0.3    | teeth together, lips slightly spread         |
| lip-neutral consonants (below) | (vowel) | ×0.4 | coarticulated: the next vowel's shape right |
|                                |        |        | before it, else the previous vowel's         |

Lip-neutral consonants are those made behind the lips and teeth (IPA chart, places from alveolar back to
glottal): t d n l ɾ ɫ ɬ ɮ ʈ ɖ ɳ ɭ ɽ ɻ c ɟ ɲ ʎ ç ʝ k ɡ g ŋ x ɣ ɰ ʟ q ɢ ɴ χ ħ ʕ h ɦ ʔ. Tokens that are not
phones follow the cue builder's rules: stress marks and ``^`` belong to the next phone, length marks and
modifiers (Unicode categories Lm, Mn, Sk: ʲ ʰ ʷ, nasal tildes after NFD) to the previous one, punctuation and
sentence edges are pauses. Any other letter-like symbol is treated as a lip-neutral consonant too, so no
language's phones can fail; tests/lipsync/test_languages.py shows that ≥ 99 % of the phones espeak-ng makes
for 20 languages are in the table or the list above.

Recordings aligned with pocketsphinx come as ARPAbet (the CMU dictionary's phone set); ``ARPABET_TO_IPA`` turns
each into the IPA phones above, so recorded and synthesized speech share this one table. Diphthongs become
their two phones (the first takes 60 % of the time, as in Rhubarb Lip Sync); the affricates CH and JH keep the
fricative part, the one the lips show.
"""

import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Shape:
    viseme: str
    weight: float


# Marker for consonants that borrow the shape of the neighbouring vowel.
COARTICULATED = Shape("*", 0.4)

_TABLE: dict[str, Shape] = {}


def _add(phones: str, viseme: str, weight: float) -> None:
    for phone in phones.split():
        _TABLE[phone] = Shape(viseme, weight)


_add("ɑ a ä", "AA", 1.0)
_add("æ", "AA", 0.9)
_add("ʌ ɒ", "AA", 0.8)
_add("ɐ", "AA", 0.65)
_add("ə ɜ ɘ ɵ", "AA", 0.45)
_add("i y", "EE", 0.9)
_add("e ø œ", "EE", 0.8)
_add("ɛ", "AA", 0.7)
_add("ɪ ᵻ ɨ ʏ", "EE", 0.65)
_add("j ɥ", "EE", 0.55)
_add("ɔ", "OH", 1.0)
_add("o", "OH", 0.9)
_add("ɚ ɝ", "OH", 0.5)
_add("u ɯ", "OO", 1.0)
_add("ʊ", "OO", 0.75)
_add("w", "OO", 0.9)
_add("ɹ r ʁ ʀ", "OO", 0.45)
_add("ʃ ʒ ʂ ʐ", "OO", 0.5)
_add("f v ɱ", "FF", 1.0)
_add("ʋ", "FF", 0.7)
_add("θ ð", "TH", 1.0)
_add("p b m ɸ β", "REST", 0.0)
_add("s z ɕ ʑ", "EE", 0.3)

# Consonants made behind the lips: they take the neighbouring vowel's shape (see the table above).
LIP_NEUTRAL = frozenset(
    [
        "t", "d", "n", "l", "ɾ", "ɫ", "ɬ", "ɮ", "ʈ", "ɖ", "ɳ", "ɭ", "ɽ", "ɻ", "c", "ɟ", "ɲ", "ʎ", "ç", "ʝ", "k",
        "ɡ", "g", "ŋ", "x", "ɣ", "ɰ", "ʟ", "q", "ɢ", "ɴ", "χ", "ħ", "ʕ", "h", "ɦ", "ʔ"
    ]
)

VOWEL_VISEMES = frozenset({"AA", "EE", "OH", "OO"})
BILABIALS = frozenset(["p", "b", "m", "ɸ", "β"])

# Tokens that carry a duration but are not phones (piper1-gpl phoneme_ids.py; docs/sources.md "Piper voices").
STRESS_MARKS = frozenset("ˈˌ")
LENGTH_MARKS = frozenset("ːˑ")
WORD_GAP = " "
UTTERANCE_START = "^"
SILENT_TOKENS = frozenset("^$_")


def has_rule(phone: str) -> bool:
    """Whether a phone is in the table or the lip-neutral list, rather than caught by the fallback."""
    return phone in _TABLE or phone in LIP_NEUTRAL


ARPABET_TO_IPA: dict[str, tuple[str, ...]] = {
    "AA": ("ɑ",), "AE": ("æ",), "AH": ("ʌ",), "AO": ("ɔ",), "AW": ("a", "ʊ"), "AY": ("a", "ɪ"),
    "B": ("b",), "CH": ("ʃ",), "D": ("d",), "DH": ("ð",), "EH": ("ɛ",), "ER": ("ɝ",), "EY": ("e", "ɪ"),
    "F": ("f",), "G": ("ɡ",), "HH": ("h",), "IH": ("ɪ",), "IY": ("i",), "JH": ("ʒ",), "K": ("k",),
    "L": ("l",), "M": ("m",), "N": ("n",), "NG": ("ŋ",), "OW": ("o", "ʊ"), "OY": ("ɔ", "ɪ"), "P": ("p",),
    "R": ("ɹ",), "S": ("s",), "SH": ("ʃ",), "T": ("t",), "TH": ("θ",), "UH": ("ʊ",), "UW": ("u",),
    "V": ("v",), "W": ("w",), "Y": ("j",), "Z": ("z",), "ZH": ("ʒ",),
}
# Share of a diphthong's time given to its first phone.
DIPHTHONG_SPLIT = 0.6


def shape_of(phone: str) -> Shape:
    return _TABLE.get(phone, COARTICULATED)


def is_vowel(phone: str) -> bool:
    return _TABLE.get(phone, COARTICULATED).viseme in VOWEL_VISEMES and phone not in "wjɥɹrʁʀʃʒ"


def is_modifier(token: str) -> bool:
    """Length marks and other modifiers (ʲ ʰ ʷ, combining marks) that belong to the phone before them."""
    if token in STRESS_MARKS:
        return False
    return all(ch in LENGTH_MARKS or unicodedata.category(ch) in ("Lm", "Mn", "Sk") for ch in token)


def is_pause(token: str) -> bool:
    """Sentence edges and punctuation: anything that is neither a letter nor a diacritic mark."""
    if token in SILENT_TOKENS:
        return True
    return not any(ch.isalpha() or ch in STRESS_MARKS or ch in LENGTH_MARKS for ch in token) and token != WORD_GAP
