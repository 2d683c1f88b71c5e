"""Text before phonemization: written forms to spoken words, and the SSML subset (docs/text.md)."""
