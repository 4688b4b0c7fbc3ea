"""A seedable generator of realistic allocation rounds (one week in 1-hour slots).

A mix of GPU nodes (8 GPUs, pools by model, gangs of whole nodes, maintenance), pilot lines
(technician shifts 06:00-22:00, recipes with a changeover matrix, minimum run, maintenance) and
lab instruments (opening hours on weekdays and Saturday morning, required training, some expiring
mid-week), with chains (a line run then a metrology slot within a few hours). Demand per class is
``contention`` times its capacity and is skewed: a few tenants ask for much more than the rest,
which is what makes fairness matter.
"""

from __future__ import annotations

import random

from scheduler.problem import (
    GPU_NODE,
    LAB_INSTRUMENT,
    PILOT_LINE,
    Problem,
    Request,
    Resource,
    Tenant,
    Training,
)

HOURS = 168
LINE_FAMILIES = {
    "sic": ("SiC-epi", "SiC-implant", "GaN-epi", "GaN-etch"),
    "machining": ("Ti-milling", "Al-milling", "steel-turning"),
    "smt": ("board-A", "board-B", "board-C"),
}
LAB_TYPES = ("confocal", "sequencer", "lc-ms", "flow-cytometer", "metrology")


def _daily(start_hour: int, end_hour: int, days) -> tuple[tuple[int, int], ...]:
    return tuple((d * 24 + start_hour, d * 24 + end_hour) for d in days)


def generate(
    n_requests: int = 200,
    n_tenants: int = 20,
    n_resources: int = 12,
    *,
    seed: int = 0,
    contention: float = 2.0,
    chain_share: float = 0.15,
) -> Problem:
    """A week of requests; the same arguments always give the same problem."""
    rnd = random.Random(seed)
    n_gpu = max(1, round(n_resources * 0.4))
    n_line = max(1, round(n_resources * 0.2))
    n_lab = max(2, n_resources - n_gpu - n_line)

    resources: list[Resource] = []
    gpu_pools: dict[str, list[str]] = {}
    for i in range(n_gpu):
        model = ("h100", "a100", "l40s")[i % 3]
        maint = ()
        if rnd.random() < 0.25:
            m = rnd.randrange(0, HOURS - 12)
            maint = ((m, m + rnd.choice((4, 8, 12))),)
        rid = f"gpu-{model}-{i:03d}"
        resources.append(
            Resource(rid, GPU_NODE, capacity=8, resource_class="gpu", maintenance=maint)
        )
        gpu_pools.setdefault(model, []).append(rid)

    shifts = _daily(6, 22, range(7))
    line_pools: dict[str, list[str]] = {}
    line_recipes: dict[str, tuple[str, ...]] = {}
    for i in range(n_line):
        family = tuple(LINE_FAMILIES)[i % len(LINE_FAMILIES)]
        recipes = LINE_FAMILIES[family]
        changeovers = tuple(
            (a, b, rnd.choice((1, 2, 3, 4, 6))) for a in recipes for b in recipes if a != b
        )
        m = rnd.randrange(0, HOURS - 8)
        rid = f"line-{family}-{i:02d}"
        resources.append(
            Resource(
                rid,
                PILOT_LINE,
                resource_class="line",
                open_periods=shifts,
                maintenance=((m, m + 6),),
                recipes=recipes,
                changeovers=changeovers,
                min_run=2,
            )
        )
        line_pools.setdefault(family, []).append(rid)
        line_recipes[family] = recipes

    opening = _daily(8, 20, range(5)) + _daily(9, 13, (5,))
    lab_pools: dict[str, list[str]] = {}
    for i in range(n_lab):
        kind = LAB_TYPES[i % len(LAB_TYPES)]
        maint = ()
        if rnd.random() < 0.2:
            d = rnd.randrange(0, 5)
            maint = ((d * 24 + 8, d * 24 + 12),)
        rid = f"lab-{kind}-{i:02d}"
        resources.append(
            Resource(
                rid,
                LAB_INSTRUMENT,
                resource_class="lab",
                open_periods=opening,
                maintenance=maint,
                required_training=kind,
            )
        )
        lab_pools.setdefault(kind, []).append(rid)

    # Tenants: weights by tier, demand skewed (a few very active tenants), some quotas.
    tenants: list[Tenant] = []
    activity: list[float] = []
    users: dict[str, list[str]] = {}
    trainings: list[Training] = []
    for i in range(n_tenants):
        tid = f"t{i:03d}"
        weight = rnd.choice((1, 1, 1, 2, 2, 3, 5))
        activity.append(rnd.paretovariate(1.2))
        users[tid] = [f"{tid}-u{j}" for j in range(rnd.randint(1, 4))]
        tenants.append(Tenant(tid, weight=weight))
        for u in users[tid]:
            for kind in LAB_TYPES:
                p = rnd.random()
                if p < 0.75:
                    trainings.append(Training(u, kind, -1000, 10_000))
                elif p < 0.87:
                    trainings.append(Training(u, kind, -1000, rnd.randrange(24, HOURS)))

    def pick_tenant() -> str:
        return rnd.choices(tenants, weights=activity)[0].id

    free_h = {r.id: _open_hours(r) for r in resources}
    cap = {
        "gpu": sum(free_h[r] * 8 for r in free_h if r.startswith("gpu")),
        "line": sum(free_h[r] for r in free_h if r.startswith("line")),
        "lab": sum(free_h[r] for r in free_h if r.startswith("lab")),
    }
    share = {"gpu": 0.45, "line": 0.17, "lab": 0.38}
    counts = {c: max(1, round(n_requests * s)) for c, s in share.items()}
    requests: list[Request] = []
    n = 0

    def window(d: int, lo: int = 0, hi: int = HOURS) -> tuple[int, int]:
        span = min(hi - lo, max(d + 2, int(d * rnd.uniform(1.5, 5.0)) + rnd.randint(0, 24)))
        e = rnd.randint(lo, hi - span)
        return e, e + span

    # GPU: k GPUs on one node of a pool, or a gang of whole nodes.
    mean = contention * cap["gpu"] / counts["gpu"]
    for _ in range(counts["gpu"]):
        tid = pick_tenant()
        model = rnd.choice(list(gpu_pools))
        pool = tuple(gpu_pools[model])
        if len(pool) >= 2 and rnd.random() < 0.08:
            nodes, units = 2, 8
        else:
            nodes, units = 1, rnd.choice((1, 2, 4, 4, 8))
        d = max(1, min(72, round(rnd.expovariate(1.0) * mean / (units * nodes))))
        a, b = window(d)
        requests.append(
            Request(
                f"r{n:05d}",
                tid,
                rnd.choice(users[tid]),
                pool,
                d,
                a,
                b,
                priority=rnd.randint(0, 3),
                units=units,
                nodes=nodes,
            )
        )
        n += 1

    # Lines (some chained to a metrology slot).
    mean = contention * cap["line"] / counts["line"]
    metrology = tuple(lab_pools.get("metrology", ()))
    for _ in range(counts["line"]):
        tid = pick_tenant()
        family = rnd.choice(list(line_pools))
        d = max(2, min(16, round(rnd.uniform(0.4, 1.6) * mean)))
        a, b = window(d)
        user = rnd.choice(users[tid])
        rid = f"r{n:05d}"
        n += 1
        chained = metrology and rnd.random() < chain_share and b + 2 <= HOURS
        chain = f"c-{rid}" if chained else None
        requests.append(
            Request(
                rid,
                tid,
                user,
                tuple(line_pools[family]),
                d,
                a,
                b,
                priority=rnd.randint(0, 3),
                recipe=rnd.choice(line_recipes[family]),
                chain=chain,
                chain_step=0,
            )
        )
        if chained:
            md = rnd.randint(1, 2)
            gap = rnd.choice((4, 8, 12, 24))
            requests.append(
                Request(
                    f"r{n:05d}",
                    tid,
                    user,
                    metrology,
                    md,
                    a,
                    min(HOURS, b + gap + md),
                    priority=requests[-1].priority,
                    chain=chain,
                    chain_step=1,
                    max_gap=gap,
                )
            )
            n += 1

    # Lab instruments.
    mean = contention * cap["lab"] / counts["lab"]
    kinds = [k for k in lab_pools if k != "metrology"] or list(lab_pools)
    for _ in range(counts["lab"]):
        tid = pick_tenant()
        kind = rnd.choice(kinds)
        d = max(1, min(10, round(rnd.uniform(0.4, 1.6) * mean)))
        a, b = window(d)
        requests.append(
            Request(
                f"r{n:05d}",
                tid,
                rnd.choice(users[tid]),
                tuple(lab_pools[kind]),
                d,
                a,
                b,
                priority=rnd.randint(0, 3),
            )
        )
        n += 1

    # Quotas for about a third of the tenants, around their expected demand.
    demand: dict[tuple[str, str], int] = {}
    for q in requests:
        c = q.resources[0].split("-")[0]
        demand[(q.tenant, c)] = demand.get((q.tenant, c), 0) + q.usage
    final_tenants = []
    for t in tenants:
        quotas = {}
        if rnd.random() < 0.33:
            for c in ("gpu", "line", "lab"):
                if demand.get((t.id, c)):
                    quotas[c] = int(demand[(t.id, c)] * rnd.uniform(0.5, 1.2))
        final_tenants.append(Tenant(t.id, weight=t.weight, quotas=quotas))

    rnd.shuffle(requests)  # submission order for first-come-first-served
    return Problem(
        horizon=HOURS,
        resources=tuple(resources),
        tenants=tuple(final_tenants),
        requests=tuple(requests),
        trainings=tuple(trainings),
        slot_minutes=60,
        name=f"week-{n_requests}r-{n_tenants}t-{n_resources}res-seed{seed}",
    )


def _open_hours(r: Resource) -> int:
    periods = ((0, HOURS),) if r.open_periods is None else r.open_periods
    return sum(b - a for a, b in periods) - sum(b - a for a, b in r.maintenance)
