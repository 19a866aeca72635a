"""Usage: the daily rollup of finished jobs, usage reports and the paged ledger."""
