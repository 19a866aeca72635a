"""The Creatix Python SDK: ``pip install 'creatix[client]'``; it needs only httpx.

```python
from creatix.client import Creatix

client = Creatix()  # CREATIX_BASE_URL, CREATIX_API_KEY (CREATIX_API_ID: else GET /v1/me)
result = client.images.generate("A red sneaker on a white table", size="1024x1024")
client.download(result.assets[0], "out/")
```

``AsyncCreatix`` has the same surface with every method awaitable. Nothing here imports the
server: this package uses httpx and the standard library only.
"""

from creatix.client._clients import AsyncCreatix, Creatix
from creatix.client._errors import (
    AuthenticationError,
    BadRequest,
    ConnectionFailed,
    CreatixError,
    InsufficientCredits,
    MissingApiId,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
)
from creatix.client._sse import EventParser, parse_events
from creatix.client._types import (
    Asset,
    AssetTask,
    Copy,
    Credits,
    Generation,
    ImageResult,
    Job,
    JobEvent,
    KeyInfo,
    Status,
    Upload,
    Video,
)

__all__ = [
    "Asset",
    "AssetTask",
    "AsyncCreatix",
    "AuthenticationError",
    "BadRequest",
    "ConnectionFailed",
    "Copy",
    "Creatix",
    "CreatixError",
    "Credits",
    "EventParser",
    "Generation",
    "ImageResult",
    "InsufficientCredits",
    "Job",
    "JobEvent",
    "KeyInfo",
    "MissingApiId",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "ServerError",
    "Status",
    "Upload",
    "Video",
    "parse_events",
]
