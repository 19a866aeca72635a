"""Provenance of outputs: content credentials and the invisible watermark."""
