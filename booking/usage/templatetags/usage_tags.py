"""Template tags other pages use to show usage: the check-in panel on a booking's page and the
usage policy in the fairness contract."""

from __future__ import annotations

from django import template

from booking.usage.selectors import booking_panel
from booking.usage.services import usage_policy

register = template.Library()


@register.inclusion_tag("usage/_panel.html", takes_context=True)
def usage_panel(context, booking):
    return {
        "panel": booking_panel(booking=booking),
        "csrf_token": context.get("csrf_token"),
        "error": None,
    }


@register.inclusion_tag("usage/_contract_policy.html")
def usage_contract():
    return {"policy": usage_policy()}
