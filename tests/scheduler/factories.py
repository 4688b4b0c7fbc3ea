"""Small random planning problems for property tests (seeded, so hypothesis can shrink seeds)."""

from __future__ import annotations

import random

from scheduler import Problem, Request, Resource, Tenant, Training
from scheduler.problem import GPU_NODE, LAB_INSTRUMENT, PILOT_LINE


def small_problem(seed: int, *, n_requests: int = 10, horizon: int = 16) -> Problem:
    """A mix of every rule: GPU nodes with gangs and maintenance, a line with recipes,
    changeovers, shifts and a minimum run, lab instruments with training and opening hours,
    chains, quotas."""
    rnd = random.Random(seed)
    resources = [
        Resource("g1", GPU_NODE, capacity=4, resource_class="gpu", maintenance=((5, 7),)),
        Resource("g2", GPU_NODE, capacity=4, resource_class="gpu"),
        Resource(
            "line",
            PILOT_LINE,
            resource_class="line",
            open_periods=((0, horizon - 2),),
            recipes=("A", "B", "C"),
            changeovers=(("A", "B", 2), ("B", "A", 1), ("A", "C", 3), ("C", "B", 1)),
            min_run=2,
        ),
        Resource(
            "lab1",
            LAB_INSTRUMENT,
            resource_class="lab",
            open_periods=((1, 7), (9, 15)),
            required_training="micro",
        ),
        Resource("lab2", LAB_INSTRUMENT, resource_class="lab", required_training="micro"),
    ]
    tenants = []
    for i in range(rnd.randint(2, 4)):
        quotas = {}
        if rnd.random() < 0.4:
            quotas = {rnd.choice(("gpu", "line", "lab")): rnd.randint(2, 20)}
        tenants.append(Tenant(f"t{i}", weight=rnd.choice((1, 1, 2, 3)), quotas=quotas))
    users = [f"u{i}" for i in range(4)]
    trainings = []
    for u in users:
        p = rnd.random()
        if p < 0.5:
            trainings.append(Training(u, "micro", -10, 100))
        elif p < 0.75:
            trainings.append(Training(u, "micro", rnd.randint(0, horizon), 100))
    requests = []
    n = 0
    while n < n_requests:
        t = rnd.choice(tenants).id
        u = rnd.choice(users)
        kind = rnd.random()
        d = rnd.randint(1, 4)
        a = rnd.randint(0, horizon - d)
        b = rnd.randint(a + d, horizon)
        if kind < 0.4:
            gang = rnd.random() < 0.15
            requests.append(
                Request(
                    f"q{n}",
                    t,
                    u,
                    ("g1", "g2"),
                    d,
                    a,
                    b,
                    priority=rnd.randint(0, 2),
                    units=4 if gang else rnd.randint(1, 4),
                    nodes=2 if gang else 1,
                )
            )
        elif kind < 0.65:
            chained = rnd.random() < 0.4 and n + 1 < n_requests
            cid = f"c{n}" if chained else None
            requests.append(
                Request(
                    f"q{n}",
                    t,
                    u,
                    ("line",),
                    d,
                    a,
                    b,
                    recipe=rnd.choice("ABC"),
                    chain=cid,
                    chain_step=0,
                    priority=rnd.randint(0, 2),
                )
            )
            if chained:
                n += 1
                d2 = rnd.randint(1, 2)
                requests.append(
                    Request(
                        f"q{n}",
                        t,
                        u,
                        ("lab1", "lab2"),
                        d2,
                        min(a, horizon - d2),
                        horizon,
                        chain=cid,
                        chain_step=1,
                        max_gap=rnd.randint(0, 4),
                    )
                )
        else:
            pool = rnd.choice((("lab1",), ("lab2",), ("lab1", "lab2")))
            requests.append(Request(f"q{n}", t, u, pool, d, a, b, priority=rnd.randint(0, 2)))
        n += 1
    return Problem(
        horizon=horizon,
        resources=tuple(resources),
        tenants=tuple(tenants),
        requests=tuple(requests),
        trainings=tuple(trainings),
    )


def tiny_problem(seed: int) -> Problem:
    """Few enough choices to enumerate every plan: GPU nodes and a trained-only instrument."""
    rnd = random.Random(seed)
    horizon = rnd.randint(4, 6)
    resources = [
        Resource("g1", GPU_NODE, capacity=rnd.randint(2, 3), resource_class="gpu"),
        Resource(
            "lab",
            LAB_INSTRUMENT,
            resource_class="lab",
            required_training="x",
            open_periods=((0, horizon - 1),),
        ),
    ]
    tenants = [
        Tenant(
            f"t{i}",
            weight=rnd.choice((1, 2, 3)),
            quotas={"gpu": rnd.randint(2, 8)} if rnd.random() < 0.3 else {},
        )
        for i in range(rnd.randint(2, 3))
    ]
    trainings = [Training("u0", "x", 0, 100), Training("u1", "x", 2, 100)]
    requests = []
    for n in range(rnd.randint(2, 5)):
        d = rnd.randint(1, 3)
        a = rnd.randint(0, horizon - d)
        b = rnd.randint(a + d, horizon)
        t = rnd.choice(tenants).id
        u = rnd.choice(("u0", "u1", "u2"))
        if rnd.random() < 0.6:
            requests.append(Request(f"q{n}", t, u, ("g1",), d, a, b, units=rnd.randint(1, 2)))
        else:
            requests.append(Request(f"q{n}", t, u, ("lab",), d, a, b))
    return Problem(horizon, tuple(resources), tuple(tenants), tuple(requests), tuple(trainings))
