"""The segmenter cuts text arriving in any pieces at sentence ends (pySBD) and, early on, at clause ends."""

from avatar_service.stream.segmenter import EARLY_SEGMENTS, MAX_SEGMENT_CHARS, Segmenter

TEXT = "Hello there, I am a talking avatar. Dr. Smith paid 3.5 dollars for it! And then"


def feed(segmenter: Segmenter, pieces: list[str]) -> list[str]:
    segments: list[str] = []
    for piece in pieces:
        segments += segmenter.push(piece)
    return segments


def test_word_by_word_cuts_a_short_first_clause_then_whole_sentences():
    segmenter = Segmenter()
    segments = feed(segmenter, [word + " " for word in TEXT.split(" ")])
    assert segments == ["Hello there, ", "I am a talking avatar. ", "Dr. Smith paid 3.5 dollars for it! "]
    assert segmenter.flush() == ["And then "]


def test_pieces_of_any_size_give_the_same_segments():
    by_char = feed(Segmenter(), list(TEXT))
    at_once = Segmenter().push(TEXT)
    by_word = feed(Segmenter(), [word + " " for word in TEXT.split(" ")])
    # Without a trailing space the last sentence may still go on ("it!" could be followed by more).
    assert by_char == at_once == by_word[:3]


def test_a_sentence_waits_until_text_follows_it():
    segmenter = Segmenter()
    assert segmenter.push("It is done.") == []  # "done." might yet be "done.com"
    assert segmenter.push(" Next") == ["It is done. "]


def test_no_text_is_lost_or_changed():
    segmenter = Segmenter()
    pieces = ["Well", ", we", "ll. Mr. Jo", "nes said: no; nev", "er — ever... Ok?! ", "Yes"]
    segments = feed(segmenter, pieces) + segmenter.flush()
    assert "".join(segments) == "".join(pieces)


def test_flush_speaks_half_a_sentence_and_clear_drops_it():
    segmenter = Segmenter()
    assert segmenter.push("Half a sent") == []
    assert segmenter.flush() == ["Half a sent"]
    segmenter.push("Dropped words")
    segmenter.clear()
    assert segmenter.flush() == []


def test_later_clauses_stay_in_their_sentence_unless_it_grows_long():
    segmenter = Segmenter()
    first = segmenter.push("First of all, this. Then, a short one, with commas. And one more, with a comma. More")
    # The first EARLY_SEGMENTS segments are cut at clauses; later sentences stay whole.
    assert first == ["First of all, ", "this. ", "Then, a short one, ", "with commas. ", "And one more, with a comma. "]
    long_clause = "word " * 32  # 160 characters before the comma
    assert segmenter.push(long_clause + ", and the rest. More") == ["More" + long_clause + ", ", "and the rest. "]


def test_text_without_punctuation_is_cut_at_word_gaps():
    segmenter = Segmenter()
    segments = segmenter.push("token " * 200)
    assert segments and all(len(s) <= MAX_SEGMENT_CHARS and s.endswith(" ") for s in segments)
    assert "".join(segments) + segmenter.flush()[0] == "token " * 200


def test_the_first_segments_are_clauses_then_whole_sentences():
    """While little audio is ahead of the listener, short segments come sooner (with ten streams on two cores
    this took the late segments from 7-9 of 50 to 3-4 of 60, and the longest gap from ~0.8-1.1 s to 0.15-0.5 s:
    bench/bench_stream.py)."""
    text = (
        "Hello there, let me tell you about the weather, number three. It started on a quiet morning, "
        "when nobody expected anything. Then, slowly, the story unfolded. "
    )
    segments = Segmenter().push(text + "More")
    assert segments[:EARLY_SEGMENTS] == ["Hello there, ", "let me tell you about the weather, ", "number three. "]
    assert segments[EARLY_SEGMENTS:] == [
        "It started on a quiet morning, when nobody expected anything. ",
        "Then, slowly, the story unfolded. ",
    ]
