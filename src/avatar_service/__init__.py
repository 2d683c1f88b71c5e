"""Offline talking-avatar service: text in, speech audio plus a mouth and eye timeline out."""

__version__ = "0.1.0"

# Bumped whenever a change alters rendered output, so cached results from older code are not reused.
PIPELINE_VERSION = "5"
