"""What-if: re-plan a round with changed weights or quotas and list what changes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from scheduler.plan import Plan
from scheduler.problem import Problem, ProblemError, Tenant
from scheduler.solve import solve


@dataclass
class Change:
    request: str
    before: tuple
    after: tuple


@dataclass
class WhatIf:
    base: Plan
    changed: Plan
    changes: list[Change] = field(default_factory=list)


def with_tenant_changes(
    problem: Problem,
    *,
    weights: Mapping[str, float] | None = None,
    quotas: Mapping[str, Mapping[str, int | None]] | None = None,
) -> Problem:
    """A copy of ``problem`` with new weights and/or quotas (``None`` removes a quota)."""
    weights = weights or {}
    quotas = quotas or {}
    known = problem.tenant_by_id
    for tid in list(weights) + list(quotas):
        if tid not in known:
            raise ProblemError("unknown_tenant", f"what_if[{tid}]", f"no tenant {tid!r}")
    tenants = []
    for t in problem.tenants:
        q = dict(t.quotas)
        for c, v in quotas.get(t.id, {}).items():
            if v is None:
                q.pop(c, None)
            else:
                q[c] = v
        tenants.append(Tenant(t.id, weight=weights.get(t.id, t.weight), quotas=q))
    return problem.replace(tenants=tuple(tenants))


def what_if(
    problem: Problem,
    *,
    weights: Mapping[str, float] | None = None,
    quotas: Mapping[str, Mapping[str, int | None]] | None = None,
    base: Plan | None = None,
    **solve_options,
) -> WhatIf:
    """Solve ``problem`` as is (unless ``base`` is given) and with the changes; list every
    request whose outcome (granted or not, where and when) differs."""
    changed_problem = with_tenant_changes(problem, weights=weights, quotas=quotas)
    base = base or solve(problem, **solve_options)
    changed = solve(changed_problem, **solve_options)
    changes = []
    for q in problem.requests:
        before, after = base.outcome(q.id), changed.outcome(q.id)
        if before[0] != after[0] or (before[0] and before != after):
            changes.append(Change(q.id, before, after))
    return WhatIf(base=base, changed=changed, changes=changes)
