"""Lip sync for recordings the service did not synthesize: the pipeline (``pipeline``) and its command (``cli``)."""
