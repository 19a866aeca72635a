"""How a provider call can end badly, in the job core's terms.

``ProviderOutage``
    The provider could not be used: connection errors, timeouts, 5xx and 429 after the
    retries, a body that is not what its protocol promises, or credentials it refuses. Another
    route of the model may serve the request; with none left the job is retried later.
``ProviderRejected``
    The provider refused the request itself (a 4xx validation error). Retrying cannot help: the
    job fails, refunded.
``ProviderFailed``
    The provider took the request and its job failed, or its result cannot be fetched. The job
    fails, refunded.

Messages are written for the job's ``failed_reason``: they never name a key, and never carry
more of the provider's own words than a short quoted detail.
"""

from __future__ import annotations

from creatix.engines.base import EngineError


class ProviderOutage(EngineError):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="provider_unavailable", retryable=True, fallback=True)


class ProviderRejected(EngineError):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="provider_rejected", retryable=False)


class ProviderFailed(EngineError):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="provider_failed", retryable=False)
