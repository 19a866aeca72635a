"""Outbox, Standard Webhooks signing, delivery with retries, and the SSRF guard."""
