"""The reader's name of each input field that errors name (``ParkError.field``).

Messages say the rule only ("The end must be after the start."); where a message leaves its
page (the API), ``labelled`` puts the field's label in front, in the reader's language.
"""

from __future__ import annotations

from django.utils.translation import gettext, gettext_lazy, pgettext_lazy

FIELD_LABELS = {
    "actual_end": gettext_lazy("Actual end"),
    "amount": gettext_lazy("Amount"),
    "booking": gettext_lazy("Booking"),
    "budget": gettext_lazy("Budget"),
    "cluster": gettext_lazy("Cluster"),
    "cpus": gettext_lazy("CPUs"),
    "cutoff": gettext_lazy("Cut-off"),
    "data_class": gettext_lazy("Data class"),
    "duration_minutes": gettext_lazy("Duration"),
    "earliest_start": gettext_lazy("Earliest start"),
    "end": gettext_lazy("End"),
    "expires_at": gettext_lazy("Expiry"),
    "follows": gettext_lazy("Follows"),
    "free_from": gettext_lazy("Free from"),
    "free_to": gettext_lazy("Free until"),
    "gpus": gettext_lazy("GPUs"),
    "hours": gettext_lazy("Hours"),
    "id": gettext_lazy("ID"),
    "latest_end": gettext_lazy("Latest end"),
    "max_gap_minutes": gettext_lazy("Maximum gap"),
    "memory_gb": gettext_lazy("Memory (GB)"),
    "month": pgettext_lazy("field", "Month"),
    "name": gettext_lazy("Name"),
    "partition": gettext_lazy("Partition"),
    "percent": gettext_lazy("Percent"),
    "period_end": gettext_lazy("Period end"),
    "pin": gettext_lazy("PIN"),
    "pool": gettext_lazy("Pool"),
    "priority": gettext_lazy("Priority"),
    "project": gettext_lazy("Project"),
    "quota": gettext_lazy("Quota"),
    "reason": gettext_lazy("Reason"),
    "recipe": gettext_lazy("Recipe"),
    "resource": gettext_lazy("Resource"),
    "round": gettext_lazy("Round"),
    "scopes": gettext_lazy("Scopes"),
    "script": gettext_lazy("Script"),
    "start": gettext_lazy("Start"),
    "state": gettext_lazy("State"),
    "status": gettext_lazy("Status"),
    "tenant": gettext_lazy("Tenant"),
    "time_limit_minutes": gettext_lazy("Time limit"),
    "time_limit_seconds": gettext_lazy("Time limit"),
    "title": gettext_lazy("Title"),
    "units": gettext_lazy("Units"),
    "user": gettext_lazy("User"),
    "valid_from": gettext_lazy("Valid from"),
    "weight": gettext_lazy("Weight"),
    "weights": gettext_lazy("Weight"),
}


def field_label(field: str) -> str:
    """The label of ``field``; ``weights[gpu]`` or ``quota.gpu`` take their base's label, and a
    field without one is named by its code."""
    base = field.split("[", 1)[0].split(".", 1)[0]
    label = FIELD_LABELS.get(field) or FIELD_LABELS.get(base)
    return str(label) if label is not None else field


def labelled(field: str, message: str) -> str:
    """``message`` with the label of ``field`` in front (the message as it is without a field)."""
    if not field:
        return str(message)
    return gettext("%(field)s: %(message)s") % {"field": field_label(field), "message": message}
