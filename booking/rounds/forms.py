"""Forms of the operator's round pages: they parse input; the services decide."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from resources.models import ResourceKind


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class RoundForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    period_start = forms.DateTimeField(label=_("Period starts"), widget=DateTimeLocalInput())
    period_end = forms.DateTimeField(label=_("Period ends"), widget=DateTimeLocalInput())
    cutoff = forms.DateTimeField(label=_("Cut-off for requests"), widget=DateTimeLocalInput())
    time_limit_seconds = forms.IntegerField(
        label=_("Planner time limit (seconds)"), min_value=1, max_value=600, initial=10
    )


class WhatIfForm(forms.Form):
    """One weight field per tenant of the round and one quota field per tenant and class.

    A blank field keeps the round's value.
    """

    def __init__(self, *args, tenants, classes, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenants = tenants
        self.classes = classes
        self.rows = []
        labels = dict(ResourceKind.choices)
        self.class_labels = [labels.get(cls, cls) for cls in classes]
        for tenant in tenants:
            weight_name = f"w_{tenant.slug}"
            self.fields[weight_name] = forms.DecimalField(
                label=_("Weight of %(tenant)s") % {"tenant": tenant.name},
                required=False,
                min_value=0.001,
                max_digits=8,
                decimal_places=3,
            )
            quota_names = []
            for cls in classes:
                name = f"q_{tenant.slug}_{cls}"
                self.fields[name] = forms.DecimalField(
                    label=_("Quota of %(tenant)s for %(cls)s (hours left in the round)")
                    % {"tenant": tenant.name, "cls": labels.get(cls, cls)},
                    required=False,
                    min_value=0,
                    max_digits=10,
                    decimal_places=2,
                )
                quota_names.append(name)
            self.rows.append((tenant, self[weight_name], [self[n] for n in quota_names]))

    def changes(self) -> tuple[dict, dict]:
        weights, quotas = {}, {}
        for tenant in self.tenants:
            value = self.cleaned_data.get(f"w_{tenant.slug}")
            if value is not None:
                weights[tenant.slug] = value
            for cls in self.classes:
                hours = self.cleaned_data.get(f"q_{tenant.slug}_{cls}")
                if hours is not None:
                    quotas.setdefault(tenant.slug, {})[cls] = hours
        return weights, quotas
