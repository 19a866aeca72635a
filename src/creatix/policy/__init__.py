"""The content policy: blocklists (and, later, moderation) applied to every dialect."""
