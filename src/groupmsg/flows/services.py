"""What a flow acts on, passed in by the caller (the app's wiring), never looked up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..delivery import DeliveryService, SendOptions
    from ..groups import Directory
    from ..state.base import DedupeStore, RecordStore, RegistryStore, RunStore


@dataclass(frozen=True)
class FlowServices:
    registry: RegistryStore
    records: RecordStore
    runs: RunStore
    dedupe: Callable[[], DedupeStore]  # opened only by flows with `dedupe:`
    directory: Directory
    delivery: DeliveryService
    send_options: SendOptions  # the command's --timeout and friends, for every message a node sends
