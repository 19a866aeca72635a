"""Images an account uploads (or imports from a URL) to use as generation input."""
