"""Errors on web pages: the rule's short name beside the message, in the reader's language."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from booking.errors import ParkError

# A short name for every rule a booking can break, shown next to the message.
RULE_LABELS = {
    "end_before_start": gettext_lazy("Order of times"),
    "start_required": gettext_lazy("Start"),
    "end_required": gettext_lazy("End"),
    "in_past": gettext_lazy("Not in the past"),
    "notice_too_short": gettext_lazy("Minimum notice"),
    "beyond_horizon": gettext_lazy("Booking horizon"),
    "too_short": gettext_lazy("Minimum length"),
    "too_long": gettext_lazy("Maximum length"),
    "not_on_slot": gettext_lazy("Time steps"),
    "outside_opening_hours": gettext_lazy("Opening hours"),
    "outside_shift": gettext_lazy("Technician shifts"),
    "maintenance": gettext_lazy("Maintenance"),
    "training_required": gettext_lazy("Training"),
    "no_valid_training": gettext_lazy("Training"),
    "not_member": gettext_lazy("Membership"),
    "units_invalid": gettext_lazy("GPUs"),
    "units_over_capacity": gettext_lazy("Capacity"),
    "cpus_invalid": gettext_lazy("CPUs"),
    "cpus_not_allowed": gettext_lazy("CPUs"),
    "too_many_cpus": gettext_lazy("CPUs"),
    "memory_invalid": gettext_lazy("Memory (GB)"),
    "memory_not_allowed": gettext_lazy("Memory (GB)"),
    "too_much_memory": gettext_lazy("Memory (GB)"),
    "slot_taken": gettext_lazy("Already booked"),
    "quota_exceeded": gettext_lazy("Quota"),
    "recipe_required": gettext_lazy("Recipe"),
    "recipe_unknown": gettext_lazy("Recipe"),
    "round_booked": gettext_lazy("Allocation round"),
    "title_required": gettext_lazy("Title"),
    "title_too_long": gettext_lazy("Title"),
    "resource_inactive": gettext_lazy("Not bookable"),
    "no_open_round": gettext_lazy("Allocation round"),
    "round_not_open": gettext_lazy("Allocation round"),
    "round_cutoff_passed": gettext_lazy("Round cut-off"),
    "window_ends_before_start": gettext_lazy("Order of times"),
    "window_outside_round": gettext_lazy("Round period"),
    "window_shorter_than_duration": gettext_lazy("Window"),
    "duration_out_of_range": gettext_lazy("Length"),
    "duration_invalid": gettext_lazy("Length"),
    "recurrence_invalid": gettext_lazy("Repeat"),
    "not_in_series": gettext_lazy("Recurring series"),
    "invalid": gettext_lazy("Input"),
    "last_manager": gettext_lazy("Managers"),
    "role_invalid": gettext_lazy("Role"),
    "cluster_username_invalid": gettext_lazy("Cluster user name"),
    "cluster_username_taken": gettext_lazy("Cluster user name"),
    "cluster_user_unknown": gettext_lazy("Cluster user name"),
    "email_invalid": gettext_lazy("E-mail"),
    "already_member": gettext_lazy("E-mail"),
}


def ui_error(error: ParkError) -> dict:
    """An error for a template: the rule's name and the message as it is (on a page the
    message sits next to its field already)."""
    return {
        "code": error.code,
        "field": error.field,
        "rule": RULE_LABELS.get(error.code, error.code),
        "message": error.message,
    }


def form_errors(form) -> list[dict]:
    out = []
    for field, errors in form.errors.items():
        for message in errors:
            label = form.fields[field].label if field in form.fields else ""
            out.append(
                {"code": "invalid", "field": field, "rule": label or _("Input"), "message": message}
            )
    return out
