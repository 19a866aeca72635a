"""Creatix: a self-hosted creative-generation API."""

__version__ = "0.1.0"
