"""The preview text engine: offline, deterministic placeholder ad copy.

``brief.py`` reads the conversation (product, audience, tone, format cues such as headlines,
taglines, bullet points, a number of variants, "short", "under 90 characters"),
``vocabulary.py`` holds its words and templates, ``copy.py`` writes the pieces of copy,
``instances.py`` builds valid JSON Schema instances filled with them (``schema_merge.py``,
``pattern_samples.py``, ``number_bounds.py`` and ``string_formats.py`` its parts), and
``engine.py`` is the ``TextEngine``. Plain answers end with a line saying they are preview copy.
"""

from creatix.engines.preview_text.brief import CopyBrief, read_brief
from creatix.engines.preview_text.copy import Writer
from creatix.engines.preview_text.engine import LABEL, PreviewTextEngine, answer
from creatix.engines.preview_text.instances import SchemaUnsatisfiable, build_instance

__all__ = [
    "LABEL",
    "CopyBrief",
    "PreviewTextEngine",
    "SchemaUnsatisfiable",
    "Writer",
    "answer",
    "build_instance",
    "read_brief",
]
