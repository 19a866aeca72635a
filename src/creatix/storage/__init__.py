"""Where bytes live (a local directory, later S3-compatible) and signed, expiring URLs."""
