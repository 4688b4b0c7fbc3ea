"""The shared static facts of a prepared round (computed by :func:`scheduler.analysis.prepare`).

Kept apart from the analysis so the occupancy timeline, which the analysis uses to compute
demand, can depend on these facts without depending on the analysis.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scheduler.problem import PILOT_LINE, Problem, Request, Resource

Ranges = list[tuple[int, int]]  # inclusive start ranges [lo, hi]

# A CP-SAT model sequences at most this many runs on one line (an exact circuit); the runs of a
# busier line beyond it stay where the current plan has them (scheduler.cpsat.exact_subset).
# ``Prepared.changeover_mode`` records which lines are that busy in the whole round.
EXACT_CHANGEOVER_LIMIT = 40


@dataclass
class Prepared:
    """Shared static analysis of a checked problem."""

    problem: Problem
    starts: dict[str, dict[str, Ranges]] = field(default_factory=dict)
    gang_starts: dict[str, Ranges] = field(default_factory=dict)
    static_reason: dict[str, tuple[str, dict]] = field(default_factory=dict)
    klass: dict[str, str] = field(default_factory=dict)
    capacity: dict[str, int] = field(default_factory=dict)
    demand: dict[tuple[str, str], int] = field(default_factory=dict)
    entitlement: dict[tuple[str, str], float] = field(default_factory=dict)
    # w / (sum of weights of the tenants asking in the class), per tenant and class.
    weight_share: dict[tuple[str, str], float] = field(default_factory=dict)
    # Classes measured by dominant share: class -> capacity-slots per dimension counted there
    # ("gpus" always, "cpus" / "memory" where a resource of the class counts them).
    dominant: dict[str, dict[str, int]] = field(default_factory=dict)
    chains: dict[str, list[Request]] = field(default_factory=dict)
    changeover_mode: dict[str, str] = field(default_factory=dict)
    worst_changeover_in: dict[tuple[str, str], int] = field(default_factory=dict)
    free: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    # Per tenant and class, the requests whose total is the demand (the tenant alone in the
    # round, the best subset under its quota): the planners try these first, so a quota is not
    # used up by a request that keeps the tenant from ever reaching its demand.
    demand_set: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    # Tenant/class pairs whose demand alone is the greedy one, not proven exact in the time.
    demand_unproven: set[tuple[str, str]] = field(default_factory=set)
    cache: dict = field(default_factory=dict)

    def chain_of(self) -> dict[str, list[Request]]:
        """Each chained request's whole chain (chains of two or more steps), by request id."""
        if "chain_of" not in self.cache:
            self.cache["chain_of"] = {
                q.id: m for m in self.chains.values() if len(m) > 1 for q in m
            }
        return self.cache["chain_of"]

    def resource_rows(self) -> dict[str, int]:
        if "rows" not in self.cache:
            self.cache["rows"] = {r.id: i for i, r in enumerate(self.problem.resources)}
        return self.cache["rows"]

    def candidate_info(self, request_id: str):
        """Row indices and capacities of a request's candidates, and the candidates grouped by
        identical start ranges (for the timeline's vectorised search)."""
        info = self.cache.get(request_id)
        if info is None:
            rows = self.resource_rows()
            rids = list(self.starts[request_id])
            res = self.problem.resource_by_id
            idx = np.array([rows[r] for r in rids], dtype=np.intp)
            caps = np.array([res[r].capacity for r in rids], dtype=np.int32)
            groups: dict[tuple, list[int]] = {}
            for i, r in enumerate(rids):
                groups.setdefault(tuple(self.starts[request_id][r]), []).append(i)
            info = (idx, caps, [(k, np.array(v, dtype=np.intp)) for k, v in groups.items()])
            self.cache[request_id] = info
        return info

    def eligible(self, request_id: str) -> bool:
        return request_id not in self.static_reason

    def changeover_gap(self, resource: Resource, before: str | None, after: str | None) -> int:
        """Gap the planners keep between consecutive runs: the exact changeover (a worst-case
        reserve here wasted about a third of the line hours of a busy week)."""
        if resource.kind != PILOT_LINE or not resource.changeovers:
            return 0
        return resource.changeover(before, after)
