"""Piper synthesis with durations: alignment sums, long-sentence splitting."""

from avatar_service.tts.engine import MAX_PHONEMES_PER_CALL, length_scale_for, split_long_sentence


def test_durations_cover_the_audio_exactly(renderer):
    voice = renderer.catalog.get(None)
    speech = renderer.engine.synthesize(voice, "One sentence. And another, with a comma!")
    assert sum(span.num_samples for span in speech.phones) == len(speech.samples)
    starts = [span.start_sample for span in speech.phones]
    assert starts == sorted(starts) and starts[0] == 0
    assert {"^", "$"} <= {span.phone for span in speech.phones}


def test_long_sentences_are_cut_at_clause_then_word_boundaries():
    clause = list("ðə kwˈɪk bɹˈaʊn fˈɑːks,") + [" "]
    pieces = split_long_sentence(clause * 6, limit=60)
    assert all(len(piece) <= 60 for piece in pieces)
    assert sum(pieces, []) == clause * 6
    assert all(piece[-2:] == [",", " "] for piece in pieces[:-1])

    words = list("lˈɔŋ ") * 40  # no punctuation at all
    pieces = split_long_sentence(words, limit=60)
    assert all(len(piece) <= 60 for piece in pieces) and sum(pieces, []) == words
    assert all(piece[-1] == " " and piece[0] != " " for piece in pieces)


def test_an_unpunctuated_wall_of_text_renders_in_bounded_pieces(renderer):
    voice = renderer.catalog.get(None)
    text = " ".join(["banana"] * 150)
    speech = renderer.engine.synthesize(voice, text)
    # Every model call starts with ^: a single call would have needed ~1 GB of decoder memory.
    calls = sum(1 for span in speech.phones if span.phone == "^")
    assert calls >= len(text) // MAX_PHONEMES_PER_CALL // 2
    assert len(speech.samples) / speech.sample_rate > 30


def test_length_scale_for_speed():
    assert length_scale_for(1.0) == 1.0
    assert length_scale_for(2.0) < 0.5 < length_scale_for(1.5)
    assert length_scale_for(0.5) > 2.0
