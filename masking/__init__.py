"""Maskflow masking engine. Never imports Django."""
