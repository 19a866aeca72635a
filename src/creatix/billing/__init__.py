"""Plans and quotas, rate limits (and, to come, the credit ledger and prices)."""
