"""A per-token request budget, as the Hub enforces one: a free account may make 1,000 API requests per 5 minutes
(issue 13). Over it, a request is answered 429 with `Retry-After` and the `RateLimit` headers huggingface_hub
parses (hf-apis.md §5.4: `"api";r=0;t=<seconds>` and `"fixed window";"api";q=<limit>;w=<window>`).

`RequestBudget` is the switch (`hub.budget`): `limit` requests per `window` seconds per user, a sliding window;
`limit=None` switches it off. A refused request is not counted. What a job's mount asks of the Hub is charged to
the job's user too (`mount.py`).
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field

FREE_ACCOUNT_LIMIT = 1000
FREE_ACCOUNT_WINDOW_SECONDS = 300.0


@dataclass
class RequestBudget:
    limit: int | None = FREE_ACCOUNT_LIMIT
    window: float = FREE_ACCOUNT_WINDOW_SECONDS
    _seen: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque), repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def charge(self, user: str) -> float | None:
        """Count one request of `user`: None when it is within the budget, else the seconds until it would be."""
        if self.limit is None:
            return None
        now = time.monotonic()
        with self._lock:
            seen = self._seen[user]
            while seen and seen[0] <= now - self.window:
                seen.popleft()
            if len(seen) >= self.limit:
                return max(0.0, seen[0] + self.window - now)
            seen.append(now)
            return None

    def refusal_headers(self, wait: float) -> dict[str, str]:
        seconds = str(math.ceil(wait))
        return {"Retry-After": seconds, "RateLimit": f'"api";r=0;t={seconds}',
                "RateLimit-Policy": f'"fixed window";"api";q={self.limit};w={int(self.window)}'}
