"""A request's text → what to synthesize: runs of words (each at a rate) and the pauses between them."""

from dataclasses import dataclass

from avatar_service.errors import InvalidInput
from avatar_service.text import ssml
from avatar_service.text.language import Language
from avatar_service.text.normalize import is_speakable, normalize, say_as, to_words
from avatar_service.text.ssml import Pause, Words


@dataclass(frozen=True)
class Spoken:
    """Normalized words for one synthesis call, at ``rate`` times the request's speed."""

    text: str
    rate: float = 1.0


def prepare(text: str, language: Language) -> list[Spoken | Pause]:
    """Plain text is one run of normalized words; SSML gives one run per stretch between breaks or rate
    changes. Raises InvalidInput for malformed SSML or when nothing speakable is left."""
    if not ssml.is_ssml(text):
        return [Spoken(normalize(text, language))]
    pieces: list[Spoken | Pause] = []
    pending: list[Words] = []

    def flush() -> None:
        spoken = to_words(" ".join(_interpreted(words, language) for words in pending), language)
        if is_speakable(spoken):
            pieces.append(Spoken(spoken, pending[0].rate))
        pending.clear()

    for piece in ssml.parse(text):
        if pending and (isinstance(piece, Pause) or piece.rate != pending[0].rate):
            flush()
        if isinstance(piece, Pause):
            if piece.ms > 0:
                pieces.append(piece)
        else:
            pending.append(piece)
    if pending:
        flush()
    if not any(isinstance(piece, Spoken) for piece in pieces):
        raise InvalidInput("text", "nothing speakable in it (only SSML tags, punctuation, symbols or emoji)")
    return pieces


def check(text: str, language: Language) -> None:
    """Raise what ``prepare`` would raise, without the number words: cheap enough for every API request.

    Normalization never removes a letter or a digit (it drops only symbols), so text is speakable exactly
    when it has one; SSML is parsed and its ``<say-as>`` contents interpreted (they are short).
    """
    if not ssml.is_ssml(text):
        if not is_speakable(text):
            raise InvalidInput("text", "nothing speakable in it (only punctuation, symbols or emoji)")
        return
    words = [piece for piece in ssml.parse(text) if isinstance(piece, Words)]
    if not any(is_speakable(_interpreted(piece, language)) for piece in words):
        raise InvalidInput("text", "nothing speakable in it (only SSML tags, punctuation, symbols or emoji)")


def _interpreted(words: Words, language: Language) -> str:
    if words.say_as is None:
        return words.text
    return say_as(words.say_as, words.text, language, words.date_format)
