"""A quick proof that a round's floor is 0: its pilot lines cannot give every tenant a run.

The floor is positive only if every tenant and class with demand gets something. For a class
whose requests all run on pilot lines, :func:`zero_floor_proven` asks CP-SAT for the easiest
such plan: one run per tenant of the class, on its lines in its allowed starts, with the lines'
changeovers between runs of different recipes - and nothing else (no other class, no chain
partner, no quota, no run held from a published plan). Every plan of the round with a positive
floor contains one, so when CP-SAT proves there is none, the floor's bound is 0.

On hot-spot rounds (``scheduler.hotspots``, 2,000 requests, 51-66 tenants on 3 lines) the model
is proven infeasible in 0.1-0.5 s on 12 seeds of 20, where the relaxed bounds (changeovers
dropped) stay positive; on 3 it finds a cover, and on 5 it is undecided at 60 s.
"""

from __future__ import annotations

import time

from ortools.sat.python import cp_model

from scheduler.analysis import Prepared
from scheduler.problem import PILOT_LINE

# Below this many seconds left, the model is not built.
MIN_SECONDS = 0.05


def zero_floor_proven(prep: Prepared, *, deadline: float, workers: int = 2, seed: int = 0) -> bool:
    """True when some line-only class cannot give each of its tenants with demand one run (the
    floor is then 0 in every plan); False when a cover exists or nothing is proven by
    ``deadline`` (a ``time.perf_counter()`` moment)."""
    for _klass, pairs in sorted(_line_classes(prep).items()):
        left = deadline - time.perf_counter()
        if left < MIN_SECONDS:
            return False
        if _cover_infeasible(prep, pairs, deadline=deadline, workers=workers, seed=seed):
            return True
    return False


def _line_classes(prep: Prepared) -> dict[str, dict[str, list]]:
    """Per class whose eligible requests all run on single pilot lines: tenant → its requests,
    for the tenants with demand in the class."""
    res = prep.problem.resource_by_id
    classes: dict[str, dict[str, list]] = {}
    mixed: set[str] = set()
    for q in prep.problem.requests:
        if not prep.eligible(q.id):
            continue
        klass = prep.klass[q.id]
        rids = prep.starts.get(q.id) or {}
        if q.nodes != 1 or not rids or any(res[rid].kind != PILOT_LINE for rid in rids):
            mixed.add(klass)
            continue
        key = (q.tenant, klass)
        if key in prep.entitlement and prep.demand.get(key, 0) > 0:
            classes.setdefault(klass, {}).setdefault(q.tenant, []).append(q)
    return {k: v for k, v in classes.items() if k not in mixed}


def _cover_infeasible(
    prep: Prepared, pairs: dict[str, list], *, deadline: float, workers: int, seed: int
) -> bool:
    res = prep.problem.resource_by_id
    m = cp_model.CpModel()
    # Per line: (request, start, present, interval, allowed starts).
    runs: dict[str, list] = {}
    for tenant in sorted(pairs):
        lits = []
        for q in pairs[tenant]:
            mine = []
            for rid, ranges in sorted(prep.starts[q.id].items()):
                start = m.new_int_var_from_domain(
                    cp_model.Domain.from_intervals([list(r) for r in ranges]), ""
                )
                present = m.new_bool_var("")
                interval = m.new_optional_fixed_size_interval_var(start, q.duration, present, "")
                runs.setdefault(rid, []).append((q, start, present, interval, ranges))
                mine.append(present)
            m.add_at_most_one(mine)
            lits += mine
        m.add_bool_or(lits)
    for rid, line in runs.items():
        m.add_no_overlap([run[3] for run in line])
        _changeovers(m, prep, res[rid], line)
    left = deadline - time.perf_counter()  # (building the model takes its share too)
    if left < MIN_SECONDS:
        return False
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = left
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    return solver.solve(m) == cp_model.INFEASIBLE


def _changeovers(m: cp_model.CpModel, prep: Prepared, r, line: list) -> None:
    """Two runs of different recipes on one line: one ends a changeover before the other starts
    (only for pairs whose allowed starts can come that close)."""
    gap = prep.changeover_gap
    for i, (qi, si, bi, _iv, ri) in enumerate(line):
        lo_i, hi_i = ri[0][0], ri[-1][1]
        for qj, sj, bj, _jv, rj in line[i + 1 :]:
            if qi.recipe == qj.recipe:
                continue
            g_ij, g_ji = gap(r, qi.recipe, qj.recipe), gap(r, qj.recipe, qi.recipe)
            if not (g_ij or g_ji):
                continue
            lo_j, hi_j = rj[0][0], rj[-1][1]
            if hi_i + qi.duration + g_ij <= lo_j or hi_j + qj.duration + g_ji <= lo_i:
                continue  # always apart by more than the changeover
            first = m.new_bool_var("")
            m.add(sj >= si + qi.duration + g_ij).only_enforce_if([bi, bj, first])
            m.add(si >= sj + qj.duration + g_ji).only_enforce_if([bi, bj, first.Not()])
