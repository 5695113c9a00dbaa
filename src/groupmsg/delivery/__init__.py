"""Delivery: every message groupmsg sends goes through `DeliveryService.deliver`.

- `route`: a group to its channel (webhook, chat/send, robot API) and the request, built once;
- `retry`: pacing by the shared rate limits, and retries of what is safe to repeat;
- `service`: the entry point, recorded `send` runs and their resumption;
- `types`: the options it takes and the results it gives.
"""

from __future__ import annotations

from .route import Prepared, channel_of, group_secret
from .service import DeliveryService
from .types import Outcome, SendOptions, SendResult

__all__ = [
    "DeliveryService",
    "Outcome",
    "Prepared",
    "SendOptions",
    "SendResult",
    "channel_of",
    "group_secret",
]
