"""Ad sets: one brief, a brand kit, several placements and variants, made from ordinary jobs
(one copy job, one key-visual image job per variant) and composed per placement by the
layout step (``assembler.py``) once a variant's parts are done (issue 21)."""
