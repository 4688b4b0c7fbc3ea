"""The answer of a planning round: one :class:`Assignment` per request, plus solve facts."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Assignment:
    """Outcome for one request: granted on ``resources`` in ``[start, end)``, or a reason.

    ``reason`` is a stable code (see ``scheduler.fairness.REASON_TEXTS``); ``params`` are its
    figures (quotas, usage and shares in hours, with the resource class named) and
    ``reason_text`` the same in plain words. ``moved``: granted later than asked because no
    earlier start was free with every other booking where it is.
    """

    request: str
    granted: bool
    resources: tuple[str, ...] = ()
    start: int | None = None
    end: int | None = None
    reason: str = "granted"
    reason_text: str = ""
    params: dict = field(default_factory=dict, compare=False)


@dataclass
class Plan:
    """A plan and how it was found.

    ``status``: ``optimal`` (every stage proven), ``feasible`` (CP-SAT solution, not all proven),
    ``greedy_fallback`` (CP-SAT found nothing in time; the greedy fair plan is returned),
    ``greedy`` / ``fcfs`` (those planners asked for directly).
    ``objectives``: ``floor`` (fair level z), ``granted_usage`` (capacity-slots), ``preference``
    (priority/earliness score of stage 3, when run). ``bounds``: proven upper bounds of the same
    names where the solver proved one. ``wall_time``: seconds, model build included.
    """

    assignments: dict[str, Assignment]
    status: str = "unknown"
    planner: str = ""
    objectives: dict[str, float] = field(default_factory=dict)
    bounds: dict[str, float] = field(default_factory=dict)
    wall_time: float = 0.0
    figures: dict = field(default_factory=dict)
    stages: list[dict] = field(default_factory=list)

    def granted_ids(self) -> list[str]:
        return [rid for rid, a in self.assignments.items() if a.granted]

    def outcome(self, request_id: str) -> tuple:
        a = self.assignments[request_id]
        return (a.granted, a.resources, a.start, a.end) if a.granted else (False, a.reason)
