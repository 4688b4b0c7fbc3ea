"""A tenant's weight in one round, as the planner receives it.

The weight is the tenant's own (tier, contract) times the factors that apps above ``rounds``
register at start-up (``AppConfig.ready``), so ``rounds`` never imports them: ``usage`` registers
its no-show penalty there. A factor is a function ``(tenant, allocation_round) → float`` in
(0, 1]; with none registered the weight is the tenant's own.
"""

from __future__ import annotations

from collections.abc import Callable

WeightFactor = Callable[..., float]

_factors: list[WeightFactor] = []


def register_weight_factor(factor: WeightFactor) -> WeightFactor:
    """Add a factor (once; registering it again has no effect)."""
    if factor not in _factors:
        _factors.append(factor)
    return factor


def round_weight(*, tenant, allocation_round) -> float:
    """The weight ``tenant`` has in ``allocation_round``'s planner input."""
    weight = float(tenant.weight)
    for factor in _factors:
        f = float(factor(tenant=tenant, allocation_round=allocation_round))
        if not 0 < f <= 1:
            raise ValueError(f"weight factor {factor.__qualname__} gave {f}, outside (0, 1]")
        weight *= f
    return weight
