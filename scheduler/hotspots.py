"""A second, independent generator of allocation rounds, shaped unlike :mod:`scheduler.generator`.

What it stresses: two or three *hot-spot* pilot lines that receive far more runs than one exact
model sequences (``EXACT_CHANGEOVER_LIMIT``), with long changeovers between recipe families;
demand spread across tenants by a heavy-tailed (Pareto) law, so a few tenants ask for most of it;
long chains (line run, then two or three measurement steps, then an analysis job on GPUs) with
tight gaps; tight windows (the duration plus a slot or two) for a share of the requests; and
mixed slot lengths: 30-minute round slots, GPU nodes booked on the hour, lines in 2-hour steps.
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

SLOT_MINUTES = 30
HORIZON = 168  # 3.5 days of 30-minute slots
RECIPES = ("epi-A", "epi-B", "etch-A", "etch-B")


def _changeovers() -> tuple[tuple[str, str, int], ...]:
    out = []
    for a in RECIPES:
        for b in RECIPES:
            if a != b:
                # Across families (epi <-> etch) a long clean, within a family a short one.
                out.append((a, b, 8 if a.split("-")[0] != b.split("-")[0] else 2))
    return tuple(out)


def generate_hotspots(
    n_requests: int = 2000, *, seed: int = 0, n_tenants: int | None = None
) -> Problem:
    """A round of about ``n_requests`` requests; the same arguments give the same round."""
    rnd = random.Random(seed)
    n_tenants = n_tenants or max(12, n_requests // 30)
    scale = max(1, n_requests // 400)
    lines = [
        Resource(
            f"hot-line-{i}",
            PILOT_LINE,
            resource_class="line",
            recipes=RECIPES,
            changeovers=_changeovers(),
            slot_minutes=120,
            open_periods=tuple((d * 48 + 12, d * 48 + 44) for d in range(4)),
        )
        for i in range(2 + (scale > 3))
    ]
    gpus = [
        Resource(
            f"gpu-{i}",
            GPU_NODE,
            capacity=8,
            resource_class="gpu",
            slot_minutes=60,
            cpus=64,
            memory=512,
        )
        for i in range(2 * scale)
    ]
    labs = [
        Resource(
            f"lab-{i}",
            LAB_INSTRUMENT,
            resource_class="lab",
            required_training="metrology" if i % 2 == 0 else None,
            open_periods=tuple((d * 48 + 16, d * 48 + 40) for d in range(4)),
        )
        for i in range(2 * scale)
    ]
    weights = [rnd.paretovariate(1.2) for _ in range(n_tenants)]
    tenants = [
        Tenant(f"t{i:03d}", weight=rnd.choice((1, 1, 2)), quotas={"line": 60} if i % 7 == 0 else {})
        for i in range(n_tenants)
    ]
    users = [f"u{i}" for i in range(n_tenants * 2)]
    trainings = [
        Training(u, "metrology", -100, HORIZON if rnd.random() < 0.8 else rnd.randrange(HORIZON))
        for u in users
        if rnd.random() < 0.7
    ]
    requests: list[Request] = []

    def window(duration: int, step: int) -> tuple[int, int]:
        start = rnd.randrange(0, HORIZON - duration) // step * step
        slack = step * rnd.choice((0, 1)) if rnd.random() < 0.4 else rnd.randrange(4, 60)
        return start, min(HORIZON, start + duration + slack)

    while len(requests) < n_requests:
        t = rnd.choices(range(n_tenants), weights=weights)[0]
        tenant, user = tenants[t].id, users[2 * t + rnd.randrange(2)]
        n = len(requests)
        kind = rnd.random()
        if kind < 0.35:  # a line run, on the hot-spot lines
            d = 4 * rnd.choice((1, 1, 2, 3))  # whole 2-hour steps
            a, b = window(d, 4)
            pool = tuple(r.id for r in rnd.sample(lines, rnd.choice((1, 1, 2))))
            recipe = rnd.choice(RECIPES)
            requests.append(Request(f"h{n:05d}", tenant, user, pool, d, a, b, recipe=recipe))
        elif kind < 0.5:  # a long chain: line run, measurements, an analysis job
            chain = f"route-{n:05d}"
            d0 = 4
            a, _ = window(d0, 4)
            steps = [
                Request(
                    f"h{n:05d}",
                    tenant,
                    user,
                    (rnd.choice(lines).id,),
                    d0,
                    a,
                    min(HORIZON, a + d0 + 24),
                    recipe=rnd.choice(RECIPES),
                    chain=chain,
                    chain_step=0,
                )
            ]
            for k in range(rnd.randint(2, 3)):
                steps.append(
                    Request(
                        f"h{n:05d}-{k + 1}",
                        tenant,
                        user,
                        tuple(r.id for r in rnd.sample(labs, 2)),
                        rnd.randint(1, 3),
                        a,
                        HORIZON,
                        chain=chain,
                        chain_step=k + 1,
                        max_gap=rnd.choice((2, 6, 12)),
                    )
                )
            steps.append(
                Request(
                    f"h{n:05d}-gpu",
                    tenant,
                    user,
                    (rnd.choice(gpus).id,),
                    2,
                    a,
                    HORIZON,
                    units=rnd.randint(1, 4),
                    cpus=8,
                    memory=64,
                    chain=chain,
                    chain_step=len(steps),
                    max_gap=24,
                )
            )
            requests += steps
        elif kind < 0.8:  # a GPU job, on the hour
            d = 2 * rnd.randint(1, 6)
            a, b = window(d, 2)
            pool = tuple(r.id for r in rnd.sample(gpus, min(len(gpus), rnd.randint(1, 3))))
            requests.append(
                Request(
                    f"h{n:05d}",
                    tenant,
                    user,
                    pool,
                    d,
                    a,
                    b,
                    units=rnd.choice((1, 2, 4, 8)),
                    cpus=rnd.choice((4, 16, 32)),
                    memory=rnd.choice((32, 128, 256)),
                    priority=rnd.randint(0, 2),
                )
            )
        else:  # a lab booking
            d = rnd.randint(1, 4)
            a, b = window(d, 1)
            pool = tuple(r.id for r in rnd.sample(labs, min(len(labs), 2)))
            requests.append(Request(f"h{n:05d}", tenant, user, pool, d, a, b))
    return Problem(
        horizon=HORIZON,
        slot_minutes=SLOT_MINUTES,
        resources=tuple(lines + gpus + labs),
        tenants=tuple(tenants),
        requests=tuple(requests),
        trainings=tuple(trainings),
        name=f"hot spots {n_requests} seed {seed}",
    )
