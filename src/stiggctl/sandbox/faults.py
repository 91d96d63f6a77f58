"""Fault injection for the sandbox: latency, errors, 429 bursts and dropped connections.

Faults apply to the vendor routes (Auth0 and Stigg), never to the sandbox's own control
paths. They are set at start-up and can be changed while the sandbox runs
(`PUT /_sandbox/faults`, `stiggctl sandbox faults`). Random faults draw from a seeded
generator; the counted ones (`fail_next`, `burst_429`) are exact, for deterministic tests.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

FaultKind = Literal["error", "rate_limit", "drop"]


@dataclass
class FaultRule:
    route: str = "*"  # "*", or a path prefix such as "/graphql" or "/api/v2/actions"
    method: str = "*"
    latency_ms: int = 0
    error_rate: float = 0.0  # share of requests answered with `status`
    status: int = 503
    fail_next: int = 0  # the next N matching requests answered with `status`
    burst_429: int = 0  # the next N matching requests answered 429
    retry_after: int = 1  # seconds, for 429s
    drop_rate: float = 0.0  # share of requests whose connection is closed unanswered
    drop_next: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method not in ("*", method):
            return False
        return self.route == "*" or path.startswith(self.route)

    def validate(self) -> FaultRule:
        for name in ("error_rate", "drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {value}")
        for name in ("latency_ms", "fail_next", "burst_429", "drop_next", "retry_after"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.status not in (500, 502, 503, 504):
            raise ValueError(f"status must be 500, 502, 503 or 504, not {self.status}")
        if self.route != "*" and not self.route.startswith("/"):
            raise ValueError(f"route must be '*' or a path starting with '/', not {self.route!r}")
        return self


@dataclass
class Fault:
    kind: FaultKind
    status: int = 0
    retry_after: int = 0


@dataclass
class FaultDecision:
    latency_ms: int = 0
    fault: Fault | None = None


@dataclass
class FaultPlan:
    rules: list[FaultRule] = field(default_factory=list)
    seed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultPlan:
        unknown = set(data) - {"rules", "seed", "latency_ms"}
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        rules = [FaultRule(**rule).validate() for rule in data.get("rules", [])]
        if data.get("latency_ms"):
            rules.insert(0, FaultRule(latency_ms=int(data["latency_ms"])).validate())
        return cls(rules=rules, seed=int(data.get("seed", 0)))

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {"seed": self.seed, "rules": [asdict(rule) for rule in self.rules]}

    def replace(self, other: FaultPlan) -> None:
        with self._lock:
            self.rules = other.rules
            self.seed = other.seed
            self._rng.seed(other.seed)

    def decide(self, method: str, path: str) -> FaultDecision:
        """Latency to add and the fault (if any) for one request; counters advance here."""
        decision = FaultDecision()
        with self._lock:
            for rule in self.rules:
                if not rule.matches(method, path):
                    continue
                decision.latency_ms += rule.latency_ms
                if decision.fault is not None:
                    continue
                decision.fault = self._draw(rule)
        return decision

    def _draw(self, rule: FaultRule) -> Fault | None:
        if rule.drop_next > 0:
            rule.drop_next -= 1
            return Fault("drop")
        if rule.burst_429 > 0:
            rule.burst_429 -= 1
            return Fault("rate_limit", 429, rule.retry_after)
        if rule.fail_next > 0:
            rule.fail_next -= 1
            return Fault("error", rule.status)
        if rule.drop_rate and self._rng.random() < rule.drop_rate:
            return Fault("drop")
        if rule.error_rate and self._rng.random() < rule.error_rate:
            return Fault("error", rule.status)
        return None
