"""The SSML subset a request may use when its text starts with ``<speak>`` (W3C SSML 1.1, docs/text.md).

``<speak>``, ``<break time|strength>``, ``<prosody rate>``, ``<say-as interpret-as="characters|cardinal|ordinal|
date" format>``, ``<sub alias>``, ``<p>`` and ``<s>``. Anything else, or a document that is not well-formed XML, is
an InvalidInput on ``text`` naming the problem; tags are never read aloud.
"""

import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass

from avatar_service.errors import InvalidInput

MAX_BREAK_MS = 5000
# SSML 1.1 leaves break strengths and rate labels to the processor; these follow common engines' defaults.
BREAK_STRENGTH_MS = {"none": 0, "x-weak": 100, "weak": 250, "medium": 500, "strong": 750, "x-strong": 1000}
RATE_LABELS = {"x-slow": 0.5, "slow": 0.75, "medium": 1.0, "default": 1.0, "fast": 1.25, "x-fast": 1.5}
SAY_AS = ("characters", "cardinal", "ordinal", "date")
DATE_FORMATS = ("mdy", "dmy", "ymd")
TAGS = ("speak", "break", "prosody", "say-as", "sub", "p", "s")


@dataclass(frozen=True)
class Words:
    """Text to speak at ``rate`` times the request's speed. ``say_as`` marks text an SSML tag interprets."""

    text: str
    rate: float = 1.0
    say_as: str | None = None
    date_format: str = "ymd"


@dataclass(frozen=True)
class Pause:
    ms: int


def is_ssml(text: str) -> bool:
    return text.lstrip().startswith("<speak")


def parse(document: str) -> list[Words | Pause]:
    """The document's words and pauses in reading order; raises InvalidInput naming the problem."""
    if "<!DOCTYPE" in document or "<!ENTITY" in document:
        raise InvalidInput("text", "malformed SSML: DOCTYPE and ENTITY declarations are not allowed")
    try:
        root = ElementTree.fromstring(document.strip())
    except ElementTree.ParseError as error:
        raise InvalidInput("text", f"malformed SSML: {error}") from None
    if _tag(root) != "speak":
        raise InvalidInput("text", f"malformed SSML: the root element must be <speak>, not <{_tag(root)}>")
    pieces: list[Words | Pause] = []
    _walk(root, 1.0, pieces)
    return pieces


def _walk(element: ElementTree.Element, rate: float, pieces: list[Words | Pause]) -> None:
    tag = _tag(element)
    if tag not in TAGS:
        raise InvalidInput("text", f"unsupported SSML tag <{tag}> (supported: {', '.join(TAGS)})")
    if tag == "break":
        pieces.append(Pause(_break_ms(element)))
    elif tag == "sub":
        alias = element.get("alias")
        if alias is None:
            raise InvalidInput("text", "SSML <sub> needs an alias attribute")
        pieces.append(Words(alias, rate))
    elif tag == "say-as":
        kind = element.get("interpret-as")
        if kind not in SAY_AS:
            raise InvalidInput("text", f"SSML <say-as interpret-as={kind!r}>: must be one of {', '.join(SAY_AS)}")
        date_format = element.get("format", "ymd")
        if kind == "date" and date_format not in DATE_FORMATS:
            raise InvalidInput("text", f"SSML <say-as format={date_format!r}>: must be one of {', '.join(DATE_FORMATS)}")
        pieces.append(Words("".join(element.itertext()), rate, kind, date_format))
    else:
        if tag == "prosody":
            rate *= _rate(element.get("rate", "default"))
        if element.text:
            pieces.append(Words(element.text, rate))
        for child in element:
            _walk(child, rate, pieces)
            if child.tail:
                pieces.append(Words(child.tail, rate))
        if tag in ("p", "s"):
            pieces.append(Words(".", rate))  # a paragraph or sentence ends like one


def _break_ms(element: ElementTree.Element) -> int:
    time = element.get("time")
    if time is None:
        strength = element.get("strength", "medium")
        if strength not in BREAK_STRENGTH_MS:
            raise InvalidInput("text", f"SSML <break strength={strength!r}>: must be one of {', '.join(BREAK_STRENGTH_MS)}")
        return BREAK_STRENGTH_MS[strength]
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*", time)
    if match is None:
        raise InvalidInput("text", f"SSML <break time={time!r}>: use milliseconds or seconds, e.g. 500ms or 1.5s")
    ms = round(float(match.group(1)) * (1000 if match.group(2) == "s" else 1))
    if ms > MAX_BREAK_MS:
        raise InvalidInput("text", f"SSML <break time={time!r}>: at most {MAX_BREAK_MS} ms")
    return ms


def _rate(value: str) -> float:
    """A label, or a percentage of the normal rate ("150%" is half as fast again, SSML 1.1 §3.2.4)."""
    if value in RATE_LABELS:
        return RATE_LABELS[value]
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)%\s*", value)
    if match is None or float(match.group(1)) <= 0:
        raise InvalidInput(
            "text", f"SSML <prosody rate={value!r}>: use a percentage such as 80% or one of {', '.join(RATE_LABELS)}"
        )
    return float(match.group(1)) / 100


def _tag(element: ElementTree.Element) -> str:
    return element.tag.rsplit("}", 1)[-1]  # without the SSML namespace, if the document declares it
