"""Forms of the members pages: they parse the input; the rules live in members/invitations."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from booking.tenancy.models import Membership

_LANGUAGE_NAMES = {"en": "English", "zh-hant": "繁體中文", "zh-hans": "简体中文"}


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"), max_length=254)
    role = forms.ChoiceField(
        label=_("Role"), choices=Membership.Role.choices, initial=Membership.Role.MEMBER
    )
    language = forms.ChoiceField(
        label=_("Language of the e-mail"),
        choices=[(code, _LANGUAGE_NAMES.get(code, name)) for code, name in settings.LANGUAGES],
    )


class AcceptForm(forms.Form):
    """Someone new accepting an invitation: their user name, name and password."""

    username = forms.CharField(label=_("User name"), max_length=150)
    first_name = forms.CharField(label=_("Your name"), max_length=150, required=False)
    password1 = forms.CharField(
        label=_("Password"), strip=False, widget=forms.PasswordInput(render_value=False)
    )
    password2 = forms.CharField(
        label=_("Password again"), strip=False, widget=forms.PasswordInput(render_value=False)
    )

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        return data
