"""Render job queues: the embedded in-process one (default) and the Valkey one (scale-out)."""
