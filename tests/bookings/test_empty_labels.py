"""Django's blank choice "---------" is not a translatable string: every select on our pages
names its own blank choice, in English, 繁體中文 and 简体中文."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import translation

from booking.tenancy.models import Membership
from tests.browser.pages import fill_park, pages_of

BLANK = {"en": "Choose a tenant", "zh-hant": "請選擇租戶", "zh-hans": "请选择租户"}
RECIPE = {"en": "Choose a recipe", "zh-hant": "請選擇配方", "zh-hans": "请选择配方"}


@pytest.fixture(autouse=True)
def english_afterwards():
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.mark.parametrize("lang", ["en", "zh-hant", "zh-hans"])
def test_no_page_shows_djangos_untranslated_blank_choice(park, lang):
    # Alice books for two tenants, so the booking forms show the tenant select.
    Membership.objects.create(
        user=park.alice, tenant=park.globex, role=Membership.Role.MEMBER, cluster_username="al"
    )
    data = fill_park(park)
    users = get_user_model().objects
    shown = []
    for path, who in pages_of(park, data):
        client = Client()
        client.cookies["django_language"] = lang
        if who:
            client.force_login(users.get(username=who))
        body = client.get(path, follow=True).content.decode()
        assert "---------" not in body, (lang, path, who)
        shown.append(body)
    text = "\n".join(shown)
    assert BLANK[lang] in text and RECIPE[lang] in text
