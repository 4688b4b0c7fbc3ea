"""The fairness contract's paragraphs, listed so ``makemessages`` extracts them.

Generated from ``scheduler.FAIRNESS_CONTRACT`` by ``booking.reasons.contract_paragraphs``.
Earlier wordings stay listed (their translations do no harm) so the page is translated whichever
version of the contract is deployed; ``tests/booking/test_planning_adapter.py`` fails when a
paragraph of the current contract is missing here or has no translation.
"""

from django.utils.translation import gettext_noop

PARAGRAPHS = [
    gettext_noop(
        "How an allocation round shares contended resources (weighted max-min fair share with demand caps)"
    ),
    gettext_noop(
        "1. Classes and capacity. Resources are grouped into classes (for example GPU nodes, pilot lines, lab instruments). The capacity of a class is the capacity-hours its resources are open in the round, without maintenance (GPU-hours for GPU nodes, hours for lines and instruments)."
    ),
    gettext_noop(
        "2. Entitlement. Every tenant has a weight (tier, contract). Among the tenants that asked for something in a class, a tenant is entitled to its weight divided by their total weight, times the class capacity: e = w / (sum of weights) x capacity. Tenants that ask for nothing neither receive nor dilute entitlement."
    ),
    gettext_noop(
        "3. Demand. A tenant's demand in a class is what it could be granted if it were alone in the round: its requests with a valid training, a feasible start in their window and (for chains) every step possible, placed one by one without clashing with each other, and capped by the largest total its quota allows (requests are not split). Quotas are hard limits: never exceeded."
    ),
    gettext_noop(
        '4. Fairness first. The planner finds the largest fair level z such that every tenant receives at least the smaller of its demand and z times its entitlement. A tenant asking for less than its fair share gets all it asked for; capacity it leaves is shared among the others by weight. The floor z is the share of entitlement that the worst-served tenant still below its demand receives; 1.0 means everyone below their demand got their full entitlement. When time allows, the tenants stuck at the floor are then held where they are and the next level is raised for everybody else, and so on (the "leximin" order), so the second-worst tenant is also as well off as possible.'
    ),
    gettext_noop(
        "5. Then efficiency. With those levels held, the planner grants as many capacity-hours as it can."
    ),
    gettext_noop(
        "6. Then priority and earliness. With both held, it prefers each tenant's higher-priority requests and earlier starts. Remaining ties are broken by request order (deterministic)."
    ),
    gettext_noop(
        "7. Every stage is solved in turn (lexicographically), never traded against the one before. Every request that is not granted gets a reason in plain words."
    ),
    gettext_noop(
        "8. Hard rules are never bent for fairness: capacity, opening hours and shifts, maintenance, changeover times between recipes, required training valid for the whole booking, chains (all steps or none, within their gaps) and quotas."
    ),
    gettext_noop(
        "3. Demand. A tenant's demand in a class is the usage of its requests that could be granted at all (valid training, a feasible start in its window, a chain whose every step is possible), capped by the tenant's quota for the round. Quotas are hard limits: never exceeded."
    ),
    gettext_noop(
        "4. Fairness first. The planner finds the largest fair level z such that every tenant receives at least the smaller of its demand and z times its entitlement. A tenant asking for less than its fair share gets all it asked for; capacity it leaves is shared among the others by weight. The floor z is the share of entitlement that the worst-served tenant still below its demand receives; 1.0 means everyone below their demand got their full entitlement."
    ),
    gettext_noop(
        "5. Then efficiency. With that floor held fixed, the planner grants as many capacity-hours as it can."
    ),
    gettext_noop(
        "3. Demand. A tenant's demand in a class is what it could be granted if it were alone in the round: the most of its requests with a valid training, a feasible start in their window and (for chains) every step possible that fit together without clashing with each other, found by the solver rather than request by request, and capped by the largest total its quota allows (requests are not split). Quotas are hard limits: never exceeded."
    ),
    gettext_noop(
        "8. Hard rules are never bent for fairness: capacity, each resource's own time steps (bookings start and end where a direct booking of it could), opening hours and shifts, maintenance, changeover times between recipes, required training valid for the whole booking, chains (all steps or none, within their gaps) and quotas."
    ),
    gettext_noop(
        "9. Changes after publishing. When a booking is cancelled, the round is planned again from the published plan: confirmed bookings stay where they are and keep their recipes (so changeovers to and from them hold), chains stay all or nothing counting steps already granted or refused, quotas count the hours already held, and the published fairness levels are kept where they can be. Only waiting requests are planned again, in the time that is free from then on, and the result is checked against every rule above before anyone is told."
    ),
    gettext_noop(
        "10. Several clusters. Quotas and fair share are park-wide: a tenant's GPU-hour quota counts its GPU-hours on every cluster together (the park's own in Hong Kong and the GBA hub on the Mainland), and its weight is the same on each; each cluster's Slurm carries the tenant's whole limit and fair share as a backstop. Where a job runs follows its data class and the tenant's data policy, never fairness. A cluster's rate factor changes what a GPU-hour costs, not what it counts against the quota."
    ),
    gettext_noop(
        "11. Dominant share. For a class of GPU nodes the operator may choose dominant share instead of hours (the round's page says which measure each class uses). A tenant's share there is its dominant share, the largest of its GPU-hours, CPU-hours and memory-hours each divided by the class's capacity in that resource, divided by its weight over the total weight (Dominant Resource Fairness); the floor z is then the smallest such share among the tenants below their demand. Demand, quotas and granted hours stay in GPU-hours."
    ),
]
