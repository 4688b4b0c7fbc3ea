"""The fairness contract, the reason codes, and the fairness figures of a plan.

``FAIRNESS_CONTRACT`` and ``REASON_TEXTS`` are written for operators and shown in the UI.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from scheduler.facts import Prepared
from scheduler.problem import DIMENSIONS
from scheduler.timeline import add_dims

FAIRNESS_CONTRACT = """\
How an allocation round shares contended resources (weighted max-min fair share with demand caps)

1. Classes and capacity. Resources are grouped into classes (for example GPU nodes, pilot lines,
   lab instruments). The capacity of a class is the capacity-hours its resources are open in the
   round, without maintenance (GPU-hours for GPU nodes, hours for lines and instruments).
2. Entitlement. Every tenant has a weight (tier, contract). Among the tenants that asked for
   something in a class, a tenant is entitled to its weight divided by their total weight, times
   the class capacity: e = w / (sum of weights) x capacity. Tenants that ask for nothing neither
   receive nor dilute entitlement.
3. Demand. A tenant's demand in a class is what it could be granted if it were alone in the round:
   the most of its requests with a valid training, a feasible start in their window and (for
   chains) every step possible that fit together without clashing with each other, found by the
   solver rather than request by request, and capped by the largest total its quota allows
   (requests are not split). Quotas are hard limits: never exceeded.
4. Fairness first. The planner finds the largest fair level z such that every tenant receives at
   least the smaller of its demand and z times its entitlement. A tenant asking for less than its
   fair share gets all it asked for; capacity it leaves is shared among the others by weight.
   The floor z is the share of entitlement that the worst-served tenant still below its demand
   receives; 1.0 means everyone below their demand got their full entitlement.
   When time allows, the tenants stuck at the floor are then held where they are and the next
   level is raised for everybody else, and so on (the "leximin" order), so the second-worst
   tenant is also as well off as possible.
5. Then efficiency. With those levels held, the planner grants as many capacity-hours as it can.
6. Then priority and earliness. With both held, it prefers each tenant's higher-priority requests
   and earlier starts. Remaining ties are broken by request order (deterministic).
7. Every stage is solved in turn (lexicographically), never traded against the one before.
   Every request that is not granted gets a reason in plain words.
8. Hard rules are never bent for fairness: capacity, each resource's own time steps (bookings
   start and end where a direct booking of it could), opening hours and shifts, maintenance,
   changeover times between recipes, required training valid for the whole booking, chains (all
   steps or none, within their gaps) and quotas.
9. Changes after publishing. When a booking is cancelled, the round is planned again from the
   published plan: confirmed bookings stay where they are and keep their recipes (so changeovers
   to and from them hold), chains stay all or nothing counting steps already granted or refused,
   quotas count the hours already held, and the published fairness levels are kept where they
   can be. Only waiting requests are planned again, in the time that is free from then on, and
   the result is checked against every rule above before anyone is told.
10. Several clusters. Quotas and fair share are park-wide: a tenant's GPU-hour quota counts its
    GPU-hours on every cluster together (the park's own in Hong Kong and the GBA hub on the
    Mainland), and its weight is the same on each; each cluster's Slurm carries the tenant's whole
    limit and fair share as a backstop. Where a job runs follows its data class and the tenant's
    data policy, never fairness. A cluster's rate factor changes what a GPU-hour costs, not what
    it counts against the quota.
11. Dominant share. For a class of GPU nodes the operator may choose dominant share instead of
    hours (the round's page says which measure each class uses). A tenant's share there is its
    dominant share, the largest of its GPU-hours, CPU-hours and memory-hours each divided by the
    class's capacity in that resource, divided by its weight over the total weight (Dominant
    Resource Fairness); the floor z is then the smallest such share among the tenants below
    their demand. Demand, quotas and granted hours stay in GPU-hours.
"""

REASON_TEXTS: dict[str, str] = {
    "granted": "Granted on {resources} from slot {start} to {end}.",
    "moved": (
        "Granted on {resources} from slot {start} to {end}, later than asked (from slot {asked}): "
        "no earlier start was free with every other booking where it is."
    ),
    "no_valid_training": (
        "Not granted: the user holds no training for this instrument that is valid for the whole "
        "booking anywhere in the requested window."
    ),
    "below_min_run": "Not granted: the run is shorter than the line's minimum run length.",
    "no_feasible_start": (
        "Not granted: no start in the requested window fits the opening hours, shifts and "
        "maintenance of any candidate resource."
    ),
    "quota_exhausted": (
        "Not granted: the tenant's quota for {resource_class} in this round ({quota_hours} h) "
        "would be exceeded ({used_hours} h already granted, this request needs {need_hours} h)."
    ),
    "chain_unplaceable": (
        "Not granted: part of chain {chain}, whose steps could not all be placed within their "
        "windows and gaps; a chain is granted all together or not at all."
    ),
    "capacity_to_fairer_share": (
        "Not granted: the capacity in its window went to tenants with a smaller share of their "
        "entitlement. This tenant received {share:.0%} of its entitlement in {resource_class} "
        "(measured {measure_words}); the fairness floor of the round is {floor:.0%}."
    ),
    "capacity_full": (
        "Not granted: every candidate resource was fully booked in its window, by requests of "
        "tenants with at least the same share of their entitlement or by this tenant's own "
        "requests. This tenant received {share:.0%} of its entitlement in {resource_class} "
        "(measured {measure_words})."
    ),
    "left_out_by_solver": (
        "Not granted: there was room for it, but the planner reached its time limit before "
        "placing it. It stays on the waitlist."
    ),
}


# How each measure is named in the reasons (the contract, 4 and 11).
MEASURE_WORDS = {"hours": "in capacity-hours", "dominant_share": "by dominant share"}


def reason_text(code: str, **params) -> str:
    """Plain words for a reason code, with the given details filled in (missing ones omitted)."""
    template = REASON_TEXTS.get(code, code)
    try:
        return template.format(**params)
    except (KeyError, ValueError, IndexError):
        return template.split(":")[0] + "."


@dataclass
class Granted:
    """What a plan grants per tenant and class: ``usage`` in capacity-slots and ``dims`` in
    CPU-slots and memory-slots (a :class:`scheduler.timeline.Timeline` has both too)."""

    usage: dict[tuple[str, str], int] = field(default_factory=dict)
    dims: dict[tuple[str, str], tuple[int, ...]] = field(default_factory=dict)


def dominant_share(prep: Prepared, key: tuple[str, str], usage: int, dims) -> float:
    """The largest of the pair's GPU-slots, CPU-slots and memory-slots, each over the class's
    capacity in that dimension (dimensions the class does not count are left out)."""
    caps = prep.dominant[key[1]]
    best = usage / caps["gpus"] if caps["gpus"] else 0.0
    for dim, used in zip(DIMENSIONS, dims or (), strict=False):
        if caps.get(dim):
            best = max(best, used / caps[dim])
    return best


def share_of(prep: Prepared, key: tuple[str, str], granted) -> float:
    """The pair's share of its entitlement: granted capacity-slots over the entitlement, or in
    a dominant-share class its dominant share over its weight share w / (sum of weights).
    ``granted``: anything with ``usage`` and ``dims`` (a timeline, :class:`Granted`)."""
    if key[1] in prep.dominant:
        usage = granted.usage.get(key, 0)
        return dominant_share(prep, key, usage, granted.dims.get(key)) / prep.weight_share[key]
    return granted.usage.get(key, 0) / prep.entitlement[key]


def shares(prep: Prepared, granted) -> dict[tuple[str, str], float]:
    return {k: share_of(prep, k, granted) for k in prep.entitlement}


@dataclass
class Figures:
    """Fairness and efficiency figures of a plan, recomputed from the plan alone."""

    floor: float
    floor_cap: float
    granted: dict[tuple[str, str], int] = field(default_factory=dict)
    share: dict[tuple[str, str], float] = field(default_factory=dict)
    demand: dict[tuple[str, str], int] = field(default_factory=dict)
    jain: float = 1.0
    utilisation: float = 0.0
    granted_usage: int = 0
    granted_requests: int = 0
    measures: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "measures": dict(sorted(self.measures.items())),
            "floor": round(self.floor, 6),
            "floor_cap": round(self.floor_cap, 6),
            "jain": round(self.jain, 6),
            "utilisation": round(self.utilisation, 6),
            "granted_usage": self.granted_usage,
            "granted_requests": self.granted_requests,
            "share": {f"{t}/{c}": round(v, 6) for (t, c), v in sorted(self.share.items())},
            "demand": {f"{t}/{c}": v for (t, c), v in sorted(self.demand.items())},
        }


def floor_cap(prep: Prepared) -> float:
    """The largest meaningful fair level: above it every tenant's demand is met (in a
    dominant-share class: no tenant below its demand reaches it even with all it asks)."""
    cap = max((prep.demand[k] / e for k, e in prep.entitlement.items()), default=0.0)
    if prep.dominant:
        asked = Granted()
        for q in prep.problem.requests:
            key = (q.tenant, prep.klass[q.id])
            if prep.eligible(q.id) and key in prep.entitlement and key[1] in prep.dominant:
                asked.usage[key] = asked.usage.get(key, 0) + q.usage
                asked.dims[key] = add_dims(asked.dims.get(key), q, 1)
        cap = max([cap, *(share_of(prep, k, asked) for k in asked.usage)])
    return cap


def fair_level(prep: Prepared, granted) -> float:
    """Largest z such that every tenant and class still below its demand has a share of at
    least z (:func:`share_of`); ``granted`` has ``usage`` and ``dims`` (a timeline), or is a
    mapping of capacity-slots."""
    if isinstance(granted, Mapping):
        granted = Granted(dict(granted))  # capacity-slots alone (no CPUs or memory asked)
    z = floor_cap(prep)
    for key in prep.entitlement:
        if granted.usage.get(key, 0) < prep.demand[key]:
            z = min(z, share_of(prep, key, granted))
    return z


def figures(prep: Prepared, granted_ids) -> Figures:
    """Figures for the set of granted request ids (placement is checked by the validator)."""
    problem = prep.problem
    by_id = problem.request_by_id
    got = Granted()
    granted = got.usage
    usage = count = 0
    for rid in granted_ids:
        q = by_id[rid]
        key = (q.tenant, prep.klass[rid])
        granted[key] = granted.get(key, 0) + q.usage
        if q.cpus or q.memory:
            got.dims[key] = add_dims(got.dims.get(key), q, 1)
        usage += q.usage
        count += 1
    share = shares(prep, got)
    # Jain's index over each tenant's fraction of its fair share received (fair share is the
    # entitlement, or the demand when that is smaller), capped at 1.
    # (a pair asking nothing it could get, as a re-plan may find, counts as served)
    # (a dominant-share pair: its share over the smaller of 1 and its demand's hours share)
    xs = [
        (
            min(1.0, share[k] / min(1.0, prep.demand[k] / e))
            if k[1] in prep.dominant
            else min(1.0, granted.get(k, 0) / fair)
        )
        if (fair := min(prep.demand[k], e)) > 0
        else 1.0
        for k, e in prep.entitlement.items()
    ]
    sq = sum(x * x for x in xs)
    jain = (sum(xs) ** 2 / (len(xs) * sq)) if sq > 0 else (1.0 if not xs else 0.0)
    total = sum(prep.capacity.values())
    return Figures(
        floor=fair_level(prep, got),
        floor_cap=floor_cap(prep),
        granted=granted,
        share=share,
        demand=dict(prep.demand),
        jain=jain,
        utilisation=usage / total if total else 0.0,
        granted_usage=usage,
        granted_requests=count,
        measures={c: problem.measure(c) for _t, c in prep.entitlement},
    )
