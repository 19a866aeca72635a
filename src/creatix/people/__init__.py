"""People who sign in (with passwords, sessions and account memberships)."""
