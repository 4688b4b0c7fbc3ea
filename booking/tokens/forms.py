"""The form of the API-token page."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy

from booking.tokens.models import ApiScope

EXPIRY_CHOICES = [
    (7, gettext_lazy("7 days")),
    (30, gettext_lazy("30 days")),
    (90, gettext_lazy("90 days")),
    (365, gettext_lazy("1 year")),
]


class TokenForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=80)
    tenant = forms.ChoiceField(label=gettext_lazy("Tenant"))
    scopes = forms.MultipleChoiceField(
        label=gettext_lazy("Scopes"),
        choices=ApiScope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[ApiScope.READ],
    )
    expires_in_days = forms.TypedChoiceField(
        label=gettext_lazy("Expires in"), choices=EXPIRY_CHOICES, coerce=int, initial=90
    )

    def __init__(self, *args, tenants, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenants = {t.slug: t for t in tenants}
        self.fields["tenant"].choices = [(t.slug, t.name) for t in tenants]
