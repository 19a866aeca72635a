"""The transformers engine: local causal language models (Qwen, Llama, Gemma, ...) for text.

``config.py`` reads the catalog's options and finds a model's folder, ``loading.py`` is the
torch and transformers boundary (loading, prompts, generation), and ``engine.py`` is the
``TextEngine``. Needs torch and transformers (the ``diffusers`` extra:
``pip install 'creatix[diffusers]'``); without them the engine starts and reports every model
unavailable, saying what to install.
"""

from creatix.engines.transformers.config import TransformersOptions
from creatix.engines.transformers.engine import GenerationCall, TransformersEngine

__all__ = ["GenerationCall", "TransformersEngine", "TransformersOptions"]
