"""Accounts, API keys (stored hashed) and resolving a request's credentials."""
