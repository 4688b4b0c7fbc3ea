"""``{% load round_reasons %}{{ booking|round_reason }}``: the planner's reason in the page's
language (the stored ``reason_text`` is in the site's default language)."""

from django import template

from booking.bookings.reasons import reason_for

register = template.Library()


@register.filter
def round_reason(booking) -> str:
    return reason_for(booking)
