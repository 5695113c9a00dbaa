"""Fault injection: random (seeded) faults and faults forced for the next requests.

The kinds are listed in :data:`config.FAULT_KINDS`; what each one does to a
request is decided by the pipeline.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import Any

from .config import FAULT_KINDS, FaultConfig


@dataclass
class Injection:
    kind: str
    times: int
    path: str | None = None


class FaultInjector:
    """Chooses the fault, if any, for one request."""

    def __init__(self, seed: int | None) -> None:
        self._rng = random.Random(seed)
        self._injections: list[Injection] = []

    def reseed(self, seed: int | None) -> None:
        self._rng = random.Random(seed)

    def inject(self, kind: str, times: int = 1, path: str | None = None) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {list(FAULT_KINDS)}")
        if times < 1:
            raise ValueError("times must be >= 1")
        self._injections.append(Injection(kind, times, path))

    def pending(self) -> list[dict[str, Any]]:
        """Injected faults not used up yet."""
        return [dataclasses.asdict(i) for i in self._injections]

    def pick(self, faults: FaultConfig, path: str, *, token_endpoint: bool, app_token: bool) -> str | None:
        """An injected fault first, else a random one at ``faults.rate``.

        Token endpoints are spared unless ``faults.include_token_endpoints``;
        ``token_expired`` needs an app token (never for webhooks).
        """
        if token_endpoint and not faults.include_token_endpoints:
            return None
        applicable = set(FAULT_KINDS)
        if not app_token:
            applicable.discard("token_expired")
        for inj in self._injections:
            if inj.kind in applicable and (inj.path is None or path.startswith(inj.path)):
                inj.times -= 1
                if inj.times <= 0:
                    self._injections.remove(inj)
                return inj.kind
        if faults.rate > 0 and self._rng.random() < faults.rate:
            candidates = [k for k in faults.kinds if k in applicable]
            if candidates:
                return self._rng.choice(candidates)
        return None
