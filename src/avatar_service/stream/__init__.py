"""Streaming speech: text arriving in pieces is cut into segments that are spoken as soon as they are whole."""
