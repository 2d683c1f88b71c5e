"""Cut text that arrives in arbitrary pieces (half words, whole paragraphs) into segments worth speaking now.

Pure and I/O-free. Sentence ends come from pySBD (Sadvilkar & Neumann 2020, "PySBD: Pragmatic Sentence
Boundary Disambiguation", the Golden Rules set): it knows that "Dr." or "3.5" end no sentence. A sentence is
only whole once text follows it — until then "Dr." might still be an abbreviation — so the last sentence of
the buffer waits for more text, a ``flush`` or the end.

Speech should start early (docs/streaming.md): the first segment is cut at the first clause break (a comma,
semicolon, colon or dash followed by a space) once it holds a few words, and any sentence that grows past
``LONG_SEGMENT_CHARS`` is cut at its clause breaks, then at a word gap, so a language model that never writes
a full stop still gets spoken.
"""

from dataclasses import dataclass, field

import pysbd

CLAUSE_BREAKS = frozenset(",;:—–")
# The first segment is spoken as soon as a clause of at least this many characters is complete:
# "Well, " alone would make a choppy start, "Hello there, " (12) is a natural first breath group.
MIN_FIRST_CLAUSE_CHARS = 10
# The first segments are cut at clause breaks, the rest at sentence ends: while a stream has little audio
# ahead of the listener, short segments reach them sooner (and, with many streams, share the render threads
# in smaller turns); later, whole sentences give Piper a sentence's intonation.
EARLY_SEGMENTS = 3
# Past this, a sentence is spoken clause by clause (about 10 s of speech at Piper's ~15 chars/s).
LONG_SEGMENT_CHARS = 150
# Past this without any clause break, the text is cut at its last word gap.
MAX_SEGMENT_CHARS = 300

_SENTENCES = pysbd.Segmenter(language="en", clean=False, char_span=False)


@dataclass
class Segmenter:
    """Feed it with ``push``; it returns the segments that are complete. ``flush`` returns the rest."""

    buffer: str = ""
    segments_cut: int = field(default=0)

    def push(self, text: str) -> list[str]:
        self.buffer += text
        return self._complete()

    def flush(self) -> list[str]:
        """Everything buffered, as segments, even mid-sentence (``flush`` and ``end`` messages)."""
        segments = self._complete()
        rest, self.buffer = self.buffer, ""
        return segments + self._emit([rest])

    def clear(self) -> None:
        """Drop what is buffered (``interrupt``); the next segment counts as a first one again."""
        self.buffer = ""
        self.segments_cut = 0

    def _complete(self) -> list[str]:
        if not self.buffer.strip():
            return []
        sentences = _SENTENCES.segment(self.buffer)
        # The last sentence may go on with the next piece of text: it stays in the buffer.
        whole, tail = sentences[:-1], sentences[-1]
        if "".join(sentences) != self.buffer:
            # pySBD dropped or changed characters: keep the buffer whole rather than lose text.
            whole, tail = [], self.buffer
        segments: list[str] = []
        for sentence in whole:
            segments += self._emit(_cut_long(sentence, early=self.segments_cut < EARLY_SEGMENTS))
        parts = _cut_long(tail, early=self.segments_cut < EARLY_SEGMENTS)
        # The tail's last part is still growing; its earlier parts end at a clause break and are done.
        segments += self._emit(parts[:-1])
        self.buffer = parts[-1]
        return segments

    def _emit(self, parts: list[str]) -> list[str]:
        spoken = [part for part in parts if part.strip()]
        self.segments_cut += len(spoken)
        return spoken


def _cut_long(sentence: str, early: bool) -> list[str]:
    """A sentence as one part, or cut after clause breaks (a stream's early segments, long sentences always)."""
    parts: list[str] = []
    start = 0
    for index in _clause_ends(sentence):
        length = index - start
        if (early and length >= MIN_FIRST_CLAUSE_CHARS) or length >= LONG_SEGMENT_CHARS:
            parts.append(sentence[start:index])
            start = index
    rest = sentence[start:]
    while len(rest) > MAX_SEGMENT_CHARS:
        gap = rest.rfind(" ", 0, MAX_SEGMENT_CHARS)
        cut = gap + 1 if gap > 0 else MAX_SEGMENT_CHARS
        parts.append(rest[:cut])
        rest = rest[cut:]
    return parts + [rest]


def _clause_ends(text: str) -> list[int]:
    """Indices just after each clause break that is followed by whitespace (the space stays with the clause)."""
    return [
        index + 2
        for index, char in enumerate(text[:-1])
        if char in CLAUSE_BREAKS and text[index + 1].isspace()
    ]
