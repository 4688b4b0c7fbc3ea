"""The reminder-preferences form: every message names its field and the rule."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy

from booking.notices.models import LEAD_MINUTES_MAX, LEAD_MINUTES_MIN, Delivery

HOURS = [(h, f"{h:02d}:00") for h in range(24)]


class NoticePreferenceForm(forms.Form):
    booking_start = forms.BooleanField(
        label=gettext_lazy("Remind me before my bookings start"), required=False
    )
    lead_minutes = forms.IntegerField(
        label=gettext_lazy("Minutes before a booking starts"),
        min_value=LEAD_MINUTES_MIN,
        max_value=LEAD_MINUTES_MAX,
        error_messages={
            "required": gettext_lazy("Minutes before a booking starts: enter a number."),
            "invalid": gettext_lazy("Minutes before a booking starts: enter a whole number."),
            "min_value": gettext_lazy(
                "Minutes before a booking starts: enter at least %(limit_value)s."
            ),
            "max_value": gettext_lazy(
                "Minutes before a booking starts: enter at most %(limit_value)s (a day)."
            ),
        },
    )
    training_expiry = forms.BooleanField(
        label=gettext_lazy("Tell me 30 and 7 days before a training expires"), required=False
    )
    quota = forms.BooleanField(
        label=gettext_lazy("Tell me when my tenant has used 75% and 100% of a quota"),
        required=False,
        help_text=gettext_lazy("Sent to the tenant's managers."),
    )
    round_cutoff = forms.BooleanField(
        label=gettext_lazy("Tell me 24 hours before a round's cut-off"), required=False
    )
    approval_due = forms.BooleanField(
        label=gettext_lazy("Tell me a day before a request waiting for my approval lapses"),
        required=False,
        help_text=gettext_lazy(
            "Sent to a resource's approvers; an undecided request is refused at its start."
        ),
    )
    delivery = forms.ChoiceField(
        label=gettext_lazy("Delivery"),
        choices=Delivery.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": gettext_lazy("Delivery: choose one e-mail each or a daily digest."),
            "invalid_choice": gettext_lazy("Delivery: choose one e-mail each or a daily digest."),
        },
    )
    digest_hour = forms.TypedChoiceField(
        label=gettext_lazy("Hour of the daily digest"),
        choices=HOURS,
        coerce=int,
        error_messages={
            "required": gettext_lazy("Hour of the daily digest: choose an hour."),
            "invalid_choice": gettext_lazy(
                "Hour of the daily digest: choose an hour from 00:00 to 23:00."
            ),
        },
    )
