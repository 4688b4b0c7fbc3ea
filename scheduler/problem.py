"""Planning problem: typed, immutable records and the checks run before any solving.

Time is counted in integer *slots* from the start of the round. A slot is ``Problem.slot_minutes``
long (60 by default); slot 0 begins at ``Problem.round_start``. Every interval is half-open,
``[start, end)``: a booking ``start=10, end=13`` occupies slots 10, 11 and 12. Use
:func:`scheduler.slots.to_slot` / :func:`scheduler.slots.to_datetime` to convert.

Usage ("hours" in the fairness contract) is counted in *capacity-slots*: a request occupying
``units`` of capacity on each of ``nodes`` resources for ``duration`` slots uses
``duration * units * nodes``. For a GPU node the capacity is its number of GPUs, so usage is
GPU-slots; for a pilot line or a lab instrument the capacity is 1 and usage is plain slots.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

GPU_NODE = "gpu_node"
PILOT_LINE = "pilot_line"
LAB_INSTRUMENT = "lab_instrument"
KINDS = (GPU_NODE, PILOT_LINE, LAB_INSTRUMENT)
# Capacity dimensions of a GPU node besides its GPUs (0 on a node: not counted there).
DIMENSIONS = ("cpus", "memory")
# How a resource class measures a tenant's share (see scheduler.fairness.FAIRNESS_CONTRACT):
# capacity-hours (the default), or the dominant share over a GPU class's GPUs, CPUs and memory.
HOURS = "hours"
DOMINANT_SHARE = "dominant_share"
MEASURES = (HOURS, DOMINANT_SHARE)

Period = tuple[int, int]


class ProblemError(ValueError):
    """Raised for input that cannot be planned. ``code`` is stable, ``field`` names the culprit."""

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(f"{field}: {message} [{code}]")
        self.code = code
        self.field = field
        self.message = message


def _periods(value: Iterable[Iterable[int]] | None) -> tuple[Period, ...] | None:
    if value is None:
        return None
    return tuple((int(a), int(b)) for a, b in value)


@dataclass(frozen=True, slots=True)
class Resource:
    """A GPU node, a pilot line or a lab instrument.

    ``capacity``: GPUs on a node; 1 for lines and instruments.
    ``resource_class``: the class quotas and fair shares are counted in (defaults to the kind).
    ``open_periods``: when the resource may be used (opening hours, technician shifts);
    ``None`` means always. ``maintenance``: periods when it may not be used.
    ``recipes`` / ``changeovers``: for pilot lines, the recipes it runs and
    ``(from_recipe, to_recipe, slots)`` changeover times; a missing pair means no changeover.
    ``min_run``: shortest run accepted (slots). ``required_training``: training a user must hold
    for the whole booking. ``slot_minutes`` / ``slot_offset``: the resource's own time grid
    (``None``: the problem's): bookings on it start and end on multiples of ``slot_minutes``
    counted from ``slot_offset`` minutes after the round start. ``cpus`` / ``memory`` (GB): a
    GPU node's other capacities (0: not counted); every booking at a time fits in each.
    """

    id: str
    kind: str
    capacity: int = 1
    resource_class: str = ""
    open_periods: tuple[Period, ...] | None = None
    maintenance: tuple[Period, ...] = ()
    recipes: tuple[str, ...] = ()
    changeovers: tuple[tuple[str, str, int], ...] = ()
    min_run: int = 0
    required_training: str | None = None
    slot_minutes: int | None = None
    slot_offset: int = 0
    cpus: int = 0
    memory: int = 0

    def __post_init__(self) -> None:
        if not self.resource_class:
            object.__setattr__(self, "resource_class", self.kind)
        object.__setattr__(self, "open_periods", _periods(self.open_periods))
        object.__setattr__(self, "maintenance", _periods(self.maintenance) or ())
        object.__setattr__(self, "recipes", tuple(self.recipes))
        object.__setattr__(
            self, "changeovers", tuple((str(a), str(b), int(t)) for a, b, t in self.changeovers)
        )

    def changeover(self, before: str | None, after: str | None) -> int:
        """Slots needed between a run of ``before`` and a run of ``after`` on this line."""
        if before is None or after is None:
            return 0
        for a, b, t in self.changeovers:
            if a == before and b == after:
                return t
        return 0


@dataclass(frozen=True, slots=True)
class Request:
    """A wish for capacity in the round.

    ``resources``: candidate resources (a pool); the planner picks one (or ``nodes`` of them for
    a gang). ``units``: capacity used on each resource (GPUs; 1 elsewhere). ``nodes``: how many
    resources are used at once (a gang of GPU nodes). ``earliest``/``deadline``: the booking
    must lie in ``[earliest, deadline)``. ``priority``: higher is more important within a
    tenant's own requests. ``recipe``: the recipe of a pilot-line run. ``chain``/``chain_step``/
    ``max_gap``: steps of one chain are granted all together or not at all, in step order; a step
    starts after the previous one ends and at most ``max_gap`` slots later (``None``: any time).
    ``cpus`` / ``memory`` (GB): asked on each node besides the ``units`` GPUs (a vector per node).
    """

    id: str
    tenant: str
    user: str
    resources: tuple[str, ...]
    duration: int
    earliest: int
    deadline: int
    priority: int = 0
    units: int = 1
    nodes: int = 1
    recipe: str | None = None
    chain: str | None = None
    chain_step: int = 0
    max_gap: int | None = None
    cpus: int = 0
    memory: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.resources, str):
            object.__setattr__(self, "resources", (self.resources,))
        else:
            object.__setattr__(self, "resources", tuple(self.resources))

    @property
    def usage(self) -> int:
        return self.duration * self.units * self.nodes


@dataclass(frozen=True, slots=True)
class Tenant:
    """A tenant with its fair-share ``weight`` and hard ``quotas`` per resource class.

    Quotas are in capacity-slots for the round (GPU-slots for GPU classes). A class without a
    quota is unlimited. Pass a ``dict``; it is stored as sorted pairs to stay immutable.
    """

    id: str
    weight: float = 1.0
    quotas: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        q = self.quotas
        items = q.items() if isinstance(q, Mapping) else q
        object.__setattr__(self, "quotas", tuple(sorted((str(c), int(v)) for c, v in items)))

    def quota(self, resource_class: str) -> int | None:
        for c, v in self.quotas:
            if c == resource_class:
                return v
        return None


@dataclass(frozen=True, slots=True)
class Training:
    """``user`` holds ``training`` valid in slots ``[valid_from, valid_until)``."""

    user: str
    training: str
    valid_from: int
    valid_until: int


@dataclass(frozen=True, slots=True)
class Problem:
    """One allocation round. ``horizon``: number of slots in the round.

    ``fairness``: resource class -> how shares are measured there (``HOURS``, the default for a
    class not listed, or ``DOMINANT_SHARE`` for a class of GPU nodes). Pass a ``dict``; it is
    stored as sorted pairs to stay immutable.
    """

    horizon: int
    resources: tuple[Resource, ...]
    tenants: tuple[Tenant, ...]
    requests: tuple[Request, ...]
    trainings: tuple[Training, ...] = ()
    slot_minutes: int = 60
    round_start: datetime | None = None
    name: str = ""
    fairness: tuple[tuple[str, str], ...] = ()
    _index: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("resources", "tenants", "requests", "trainings"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        f = self.fairness
        items = f.items() if isinstance(f, Mapping) else f
        object.__setattr__(self, "fairness", tuple(sorted((str(c), str(m)) for c, m in items)))

    def measure(self, resource_class: str) -> str:
        """How shares are measured in ``resource_class`` (``HOURS`` unless stated)."""
        for c, m in self.fairness:
            if c == resource_class:
                return m
        return HOURS

    @property
    def resource_by_id(self) -> dict[str, Resource]:
        if "r" not in self._index:
            self._index["r"] = {r.id: r for r in self.resources}
        return self._index["r"]

    @property
    def tenant_by_id(self) -> dict[str, Tenant]:
        if "t" not in self._index:
            self._index["t"] = {t.id: t for t in self.tenants}
        return self._index["t"]

    @property
    def request_by_id(self) -> dict[str, Request]:
        if "q" not in self._index:
            self._index["q"] = {q.id: q for q in self.requests}
        return self._index["q"]

    def grid(self, resource: Resource) -> tuple[int, int]:
        """A resource's time grid in slots: bookings start and end at ``offset + k * step``."""
        if resource.slot_minutes is None:
            return 1, 0
        step = max(1, resource.slot_minutes // self.slot_minutes)
        return step, (resource.slot_offset // self.slot_minutes) % step

    def request_class(self, request: Request) -> str:
        return self.resource_by_id[request.resources[0]].resource_class

    def replace(self, **changes) -> Problem:
        """A copy with some fields changed (indexes are rebuilt)."""
        values = {
            name: getattr(self, name)
            for name in (
                "horizon",
                "resources",
                "tenants",
                "requests",
                "trainings",
                "slot_minutes",
                "round_start",
                "name",
                "fairness",
            )
        }
        values.update(changes)
        return Problem(**values)


def _check_periods(periods: Iterable[Period], where: str) -> None:
    for a, b in periods:
        if b < a:
            raise ProblemError("bad_period", where, f"period [{a}, {b}) ends before it starts")


def check_problem(problem: Problem) -> None:
    """Refuse input that cannot be planned, with a clear message, before any solving.

    Raises :class:`ProblemError` naming the field and the rule broken.
    """
    if problem.horizon <= 0:
        raise ProblemError("bad_horizon", "horizon", "must be a positive number of slots")
    if problem.slot_minutes <= 0:
        raise ProblemError("bad_slot", "slot_minutes", "must be positive")
    seen: set[str] = set()
    for r in problem.resources:
        where = f"resources[{r.id}]"
        if r.id in seen:
            raise ProblemError("duplicate_id", where, "resource id used twice")
        seen.add(r.id)
        if r.kind not in KINDS:
            raise ProblemError("unknown_kind", f"{where}.kind", f"{r.kind!r} is not one of {KINDS}")
        if r.capacity < 1:
            raise ProblemError("bad_capacity", f"{where}.capacity", "must be at least 1")
        for dim in DIMENSIONS:
            if getattr(r, dim) < 0 or (getattr(r, dim) and r.kind != GPU_NODE):
                raise ProblemError(
                    "bad_capacity", f"{where}.{dim}", "only GPU nodes have it, and not negative"
                )
        if r.kind != GPU_NODE and r.capacity != 1:
            raise ProblemError(
                "bad_capacity", f"{where}.capacity", "lines and instruments have capacity 1"
            )
        if r.min_run < 0:
            raise ProblemError("bad_min_run", f"{where}.min_run", "must not be negative")
        if r.slot_minutes is not None and (
            r.slot_minutes <= 0 or r.slot_minutes % problem.slot_minutes
        ):
            raise ProblemError(
                "bad_slot",
                f"{where}.slot_minutes",
                f"must be a positive multiple of the round's {problem.slot_minutes} minutes",
            )
        if r.slot_offset % problem.slot_minutes:
            raise ProblemError(
                "bad_slot",
                f"{where}.slot_offset",
                f"must be a multiple of the round's {problem.slot_minutes} minutes",
            )
        if r.open_periods is not None:
            _check_periods(r.open_periods, f"{where}.open_periods")
        _check_periods(r.maintenance, f"{where}.maintenance")
        recipes = set(r.recipes)
        for a, b, t in r.changeovers:
            for name in (a, b):
                if name not in recipes:
                    raise ProblemError(
                        "unknown_recipe",
                        f"{where}.changeovers",
                        f"changeover names recipe {name!r}, which the line does not list "
                        f"(recipes: {sorted(recipes)})",
                    )
            if t < 0:
                raise ProblemError(
                    "bad_changeover", f"{where}.changeovers", f"{a}->{b} is negative"
                )

    for c, m in problem.fairness:
        where = f"fairness[{c}]"
        kinds = {r.kind for r in problem.resources if r.resource_class == c}
        if not kinds:
            raise ProblemError("unknown_class", where, f"no resource is in class {c!r}")
        if m not in MEASURES:
            raise ProblemError("bad_fairness", where, f"{m!r} is not one of {MEASURES}")
        if m == DOMINANT_SHARE and kinds != {GPU_NODE}:
            raise ProblemError(
                "bad_fairness", where, "dominant share is for a class of GPU nodes only"
            )

    seen = set()
    for t in problem.tenants:
        where = f"tenants[{t.id}]"
        if t.id in seen:
            raise ProblemError("duplicate_id", where, "tenant id used twice")
        seen.add(t.id)
        if not t.weight > 0:
            raise ProblemError("bad_weight", f"{where}.weight", "must be greater than 0")
        for c, v in t.quotas:
            if v < 0:
                raise ProblemError("bad_quota", f"{where}.quotas[{c}]", "must not be negative")

    for tr in problem.trainings:
        if tr.valid_until < tr.valid_from:
            raise ProblemError(
                "bad_period", f"trainings[{tr.user}/{tr.training}]", "valid_until before valid_from"
            )

    resources = problem.resource_by_id
    tenants = problem.tenant_by_id
    seen = set()
    chains: dict[str, list[Request]] = {}
    for q in problem.requests:
        where = f"requests[{q.id}]"
        if q.id in seen:
            raise ProblemError("duplicate_id", where, "request id used twice")
        seen.add(q.id)
        if q.tenant not in tenants:
            raise ProblemError("unknown_tenant", f"{where}.tenant", f"no tenant {q.tenant!r}")
        if not q.resources:
            raise ProblemError("no_resource", f"{where}.resources", "names no resource")
        for rid in q.resources:
            if rid not in resources:
                raise ProblemError("unknown_resource", f"{where}.resources", f"no resource {rid!r}")
        if len(set(q.resources)) != len(q.resources):
            raise ProblemError("duplicate_id", f"{where}.resources", "resource listed twice")
        pool = [resources[rid] for rid in q.resources]
        classes = {r.resource_class for r in pool}
        if len(classes) > 1:
            raise ProblemError(
                "mixed_pool",
                f"{where}.resources",
                f"candidates span several resource classes {sorted(classes)}",
            )
        if q.duration <= 0:
            raise ProblemError("bad_duration", f"{where}.duration", "must be positive")
        if q.deadline - q.earliest < q.duration:
            raise ProblemError(
                "window_too_short",
                f"{where}.deadline",
                f"window [{q.earliest}, {q.deadline}) is shorter than the duration {q.duration}",
            )
        if q.units < 1:
            raise ProblemError("bad_units", f"{where}.units", "must be at least 1")
        if q.nodes < 1:
            raise ProblemError("bad_nodes", f"{where}.nodes", "must be at least 1")
        if q.nodes > len(q.resources):
            raise ProblemError(
                "bad_nodes",
                f"{where}.nodes",
                f"asks {q.nodes} resources at once but names only {len(q.resources)}",
            )
        for r in pool:
            if q.units > r.capacity:
                raise ProblemError(
                    "bad_units",
                    f"{where}.units",
                    f"asks {q.units} units but {r.id} has capacity {r.capacity}",
                )
            for dim in DIMENSIONS:
                need, have = getattr(q, dim), getattr(r, dim)
                if need < 0 or (have and need > have):
                    raise ProblemError(
                        "bad_units", f"{where}.{dim}", f"asks {need} {dim} but {r.id} has {have}"
                    )
            if r.kind == PILOT_LINE and r.recipes:
                if q.recipe is None:
                    raise ProblemError(
                        "no_recipe", f"{where}.recipe", f"line {r.id} needs a recipe"
                    )
                if q.recipe not in r.recipes:
                    raise ProblemError(
                        "unknown_recipe",
                        f"{where}.recipe",
                        f"line {r.id} does not run recipe {q.recipe!r}",
                    )
        if q.nodes > 1 and any(r.kind != GPU_NODE for r in pool):
            raise ProblemError("bad_nodes", f"{where}.nodes", "only GPU nodes can be ganged")
        if q.max_gap is not None and q.max_gap < 0:
            raise ProblemError("bad_gap", f"{where}.max_gap", "must not be negative")
        if q.chain is not None:
            chains.setdefault(q.chain, []).append(q)
    for cid, members in chains.items():
        where = f"chains[{cid}]"
        if len({m.tenant for m in members}) > 1:
            raise ProblemError("bad_chain", where, "steps belong to different tenants")
        steps = [m.chain_step for m in members]
        if len(set(steps)) != len(steps):
            raise ProblemError("bad_chain", where, "two steps share a chain_step number")
