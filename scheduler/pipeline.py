"""The planner's orchestration types: one time budget, the solve options and the solve facts.

A round is planned as a pipeline (:func:`scheduler.decompose.plan_parts`): starting plans, floor
neighbourhoods, then one of three strategies (neighbourhoods only, one model, part by part), each
ending in the staged CP-SAT solve of :func:`scheduler.cpsat.solve_prepared` (floor, further
fairness levels, granted hours, preference). Every step takes its time from one :class:`Budget`;
the share each step may use is named once, in :data:`SHARES`. Each step reports what it did as
typed :class:`StageFact` records (each CP-SAT stage) and :class:`Step` records (each pipeline
step, with the floor it reached) gathered in :class:`SolveFacts`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

# What a solve may say of its plan: every stage proven optimal, a plan found but not proven, or
# no CP-SAT solution at all (the greedy plan is the answer).
OPTIMAL, FEASIBLE, GREEDY_FALLBACK = "optimal", "feasible", "greedy_fallback"

# Of the time limit kept at the end for writing the plan's reasons and figures.
WRITE_SHARE = 0.03
WRITE_SECONDS = 0.1


@dataclass(frozen=True)
class Shares:
    """Each step's share of the time, in one place. "Of the limit": counted from the run's start
    as a share of its whole limit; "of the left": a share of the time left when the step begins."""

    # Of the limit, at most, for solving each tenant's demand alone exactly (scheduler.solve).
    demand: float = 0.05
    # Of the limit, counted from the start (prepare included), for the starting plans: more starves
    # the floor neighbourhoods that follow (measured: week rounds of 2,000 requests lost half their
    # floor with 10% counted from the end of prepare).
    start: float = 0.05
    # Of the limit, at most, for proving the floor is 0 (``scheduler.cover``) when the start
    # leaves many pairs with nothing: hot-spot rounds of 2,000 requests are proven in 0.5 s.
    cover: float = 0.08
    # A round of at most ``QUICK_EXACT_MAX`` requests is first solved as one model in this share of
    # the limit; if every stage is proven, that is the answer.
    quick_exact: float = 0.15
    # Of the limit, counted from the start, for raising the floor neighbourhood by neighbourhood
    # (a round in parts / a round small enough for one model: on week rounds of 2,000 requests
    # at 10 s, 0.45 reached a floor 0-60% higher than 0.2 on six seeds of eight and never lower;
    # 0.6 ran late on some).
    lns: float = 0.4
    single_lns: float = 0.45
    # A one-model round's floor neighbourhoods go on past ``single_lns``, up to this share, while
    # the floor still rises (it has within the last ``lns_patience`` of the limit): on week rounds
    # of 2,000 requests at 10 s, seeds whose floor still rose at 0.45 gained up to 2x by 0.75,
    # while a floor reached early leaves its time to the hours stages as before.
    single_lns_max: float = 0.75
    lns_patience: float = 0.2
    # Of the limit, for proving a bound on the floor (a round in parts / one model; the one model
    # needs a little more: measured on the 2,000-request benchmark).
    bound: float = 0.08
    single_bound: float = 0.12
    # Of the limit, at most, for the bound a one-model round tries right after its floor
    # neighbourhoods: where the floor is the best, it is proven in well under this (week rounds
    # of 2,000 requests: 0.3-0.5 s of 10 s); where not, the time goes to more neighbourhoods.
    early_bound: float = 0.06
    # Of the limit of a model holding the round's floor with more than ``LIGHT_FLOOR_ABOVE``
    # requests, at most, for its floor with the busy lines held.
    light_floor: float = 0.25
    # Of the limit of a one-model round, at most, for freeing runs held on busy lines (floor only).
    free: float = 0.12
    # Of the limit of a one-model round whose floor is still 0 after freeing held runs, for more
    # floor neighbourhoods (the whole model holds the busy lines' runs in the pair's way).
    zero_lns: float = 0.25
    # Of the limit, at least, left to the whole model of a one-model round by the steps before.
    whole_model_min: float = 0.12
    # Of the limit of a one-model round whose floor is proven early, for hours in neighbourhoods.
    single_hours: float = 0.3
    # Inside a staged solve, of the left: the floor stage, and the floor with the further leximin
    # levels (a model of at most 1,000 requests / a larger one).
    floor: float = 0.3
    floor_levels: float = 0.5
    large_floor: float = 0.25
    large_levels: float = 0.35
    # Of the left, at most, for the floor stage of a large model holding the round's floor: it
    # usually ends, proven, a little before its usual share; a slow run gets more time.
    big_floor: float = 0.4
    # Of the left: a floor-only solve; hours when preference follows / when it does not; then
    # preference.
    floor_only: float = 0.97
    usage: float = 0.75
    usage_last: float = 0.97
    preference: float = 0.97


SHARES = Shares()


@dataclass(frozen=True)
class Budget:
    """One run's time: ``limit`` seconds from ``started`` (a ``time.perf_counter()`` value), and
    the CP-SAT workers and seed every solve in the run uses."""

    limit: float
    started: float
    workers: int = 2
    seed: int = 0

    @classmethod
    def start(
        cls, limit: float, *, workers: int = 2, seed: int = 0, started: float | None = None
    ) -> Budget:
        """A budget of ``limit`` seconds from ``started`` (default: now)."""
        return cls(limit, time.perf_counter() if started is None else started, workers, seed)

    def at(self, share: float) -> float:
        """The moment ``share`` of the limit after the start."""
        return self.started + share * self.limit

    def end(self, reserve: float = 0.0) -> float:
        """The last moment for solving: the time to write the plan, and ``reserve`` seconds more,
        are kept before the limit."""
        return self.started + self.limit * (1 - WRITE_SHARE) - WRITE_SECONDS - reserve

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def sub(self, limit: float, *, started: float | None = None) -> Budget:
        """A step's own budget (same workers and seed), from ``started`` (default: now)."""
        return Budget.start(limit, workers=self.workers, seed=self.seed, started=started)

    def limit_until(self, moment: float) -> float:
        """The limit of a budget from the start whose :meth:`end` is ``moment``."""
        return (moment + WRITE_SECONDS - self.started) / (1 - WRITE_SHARE)


@dataclass(frozen=True)
class SolveOptions:
    """What one staged CP-SAT solve re-plans, and which stages it runs.

    ``only``: re-plan just these requests, everything else in the current plan stays where it is.
    ``order``: which requests enter a busy line's model first (``[]`` keeps all its runs fixed;
    default: the worst-served pairs' first). ``stage3``: end with the preference stage.
    ``max_levels``: fairness levels solved (the floor and the next ones). ``floor_only``: just the
    floor stage, with all the time. ``floor_proven``: the round's floor meets a proven bound (the
    floor stage is skipped when this model holds it). ``hold_usage``: no tenant and class gets
    fewer hours than in the current plan. ``placed_first``: on a busy line the runs placed in the
    current plan enter the model before waiting ones (else ``order`` alone decides)."""

    only: set[str] | None = None
    order: list[str] | None = None
    stage3: bool = True
    max_levels: int = 3
    floor_only: bool = False
    floor_proven: bool = False
    hold_usage: bool = False
    placed_first: bool = True


@dataclass(frozen=True)
class StageFact:
    """One solver stage: its name and status, the seconds it took, its objective and bound (when
    it found a solution), and in a round solved part by part, the part and whether it was whole."""

    stage: str
    status: str
    seconds: float
    objective: float | None = None
    bound: float | None = None
    part: int | None = None
    whole: bool | None = None

    def as_dict(self) -> dict:
        out: dict = {}
        if self.part is not None:
            out["part"], out["whole"] = self.part, self.whole
        out.update(stage=self.stage, status=self.status, seconds=self.seconds)
        if self.objective is not None:
            out["objective"], out["bound"] = self.objective, self.bound
        return out


@dataclass(frozen=True)
class Step:
    """One step of the pipeline (starting plans, neighbourhoods, a bound, a staged solve): when
    it ended, in seconds from the run's start, and the plan's floor and granted hours then."""

    name: str
    at: float
    floor: float
    hours: int


@dataclass
class SolveFacts:
    """What a solve reports: its status, its stages, its objectives (``floor_model``,
    ``floor_levels``, ``preference``) and the bounds it proved (``floor``, ``granted_usage``)."""

    status: str = OPTIMAL
    stages: list[StageFact] = field(default_factory=list)
    objectives: dict[str, float | list[float]] = field(default_factory=dict)
    bounds: dict[str, float] = field(default_factory=dict)
    parts: int = 0
    steps: list[Step] = field(default_factory=list)

    def stage_dicts(self) -> list[dict]:
        return [st.as_dict() for st in self.stages]
