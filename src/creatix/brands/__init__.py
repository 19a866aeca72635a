"""Brand kits: an account's name, logo, colours, font, tone of voice, banned words, default
call to action and legal line, which ad sets are made in (issue 21)."""
