"""Image sizing, visible watermark, encoding."""
