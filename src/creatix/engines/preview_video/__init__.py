"""The preview video engine: a deterministic, offline, fast image-to-video animation.

It gives a still image cheap camera moves (``motion.py``: a slow Ken Burns zoom and pan,
eased, with a faint sway), drawn from two layers (``layers.py``: a sharp near layer over a soft
far one, moving at different speeds for parallax), labels every frame PREVIEW as the image
preview engine labels its pictures, and, when asked, adds a synthesized soundtrack
(``audio.py``: an ambient pad over a chord progression, with a light beat for background
music). ``encode.py`` streams it all into an H.264/AAC MP4 with PyAV; ``engine.py`` is the
``VideoEngine``. The seed fixes the camera path and the music; nothing is learnt or fetched.
"""

from creatix.engines.preview_video.engine import (
    MIN_SIDE,
    PreviewVideoEngine,
    PreviewVideoOptions,
    render_video,
)

__all__ = ["MIN_SIDE", "PreviewVideoEngine", "PreviewVideoOptions", "render_video"]
