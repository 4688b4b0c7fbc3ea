"""The reminder-preferences page: defaults, saving, messages naming the field, htmx, and each
user seeing and changing only their own."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from booking.notices.models import Delivery, Notice, NoticeKind, NoticePreference
from tests.notices.conftest import MONDAY

pytestmark = pytest.mark.django_db

URL = reverse("notice_preferences")
VALID = {
    "booking_start": "on",
    "lead_minutes": "90",
    "training_expiry": "on",
    "round_cutoff": "on",
    "delivery": Delivery.DIGEST,
    "digest_hour": "7",
}


def test_the_page_needs_a_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_page_shows_the_defaults_and_is_in_the_menu(client, park):
    client.force_login(park.alice)
    response = client.get(URL)
    assert response.status_code == 200
    text = response.content.decode()
    assert f'href="{URL}"' in text  # the menu links to it
    assert 'name="lead_minutes" value="60"' in text
    assert re.search(r'value="immediate"[^>]*checked', text)
    assert "No reminders yet." in text


def test_saving_stores_the_choices(client, park):
    client.force_login(park.alice)
    response = client.post(URL, VALID)
    assert response.status_code == 200
    assert "Your reminder settings are saved." in response.content.decode()
    pref = NoticePreference.objects.get(user=park.alice)
    assert (pref.lead_minutes, pref.delivery, pref.digest_hour) == (90, Delivery.DIGEST, 7)
    assert (pref.booking_start, pref.training_expiry, pref.quota, pref.round_cutoff) == (
        True,
        True,
        False,
        True,
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("lead_minutes", "2", "Minutes before a booking starts: enter at least 5."),
        ("lead_minutes", "1441", "Minutes before a booking starts: enter at most 1440 (a day)."),
        ("lead_minutes", "soon", "Minutes before a booking starts: enter a whole number."),
        ("delivery", "pigeon", "Delivery: choose one e-mail each or a daily digest."),
        ("digest_hour", "24", "Hour of the daily digest: choose an hour from 00:00 to 23:00."),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
    client, park, field, value, message
):
    client.force_login(park.alice)
    response = client.post(URL, {**VALID, field: value})
    assert response.status_code == 400
    text = response.content.decode()
    assert message in text and f'data-field="{field}"' in text
    assert not NoticePreference.objects.filter(user=park.alice).exists()


def test_htmx_gets_the_form_alone_with_its_errors(client, park):
    client.force_login(park.alice)
    response = client.post(URL, {**VALID, "lead_minutes": "0"}, headers={"HX-Request": "true"})
    assert response.status_code == 200  # htmx swaps 2xx answers only
    text = response.content.decode()
    assert text.startswith('<form id="notice-preferences"') and "<html" not in text
    assert "enter at least 5" in text


def test_the_errors_speak_traditional_chinese(client, park):
    client.force_login(park.alice)
    client.cookies["django_language"] = "zh-hant"
    response = client.post(URL, {**VALID, "lead_minutes": "2"})
    assert "預約開始前多少分鐘：請輸入至少 5。" in response.content.decode()


def test_a_user_changes_only_their_own_preferences(client, park):
    NoticePreference.objects.create(user=park.alice, lead_minutes=30)
    client.force_login(park.charlie)
    response = client.post(URL, {**VALID, "lead_minutes": "240", "user": park.alice.pk})
    assert response.status_code == 200
    assert NoticePreference.objects.get(user=park.alice).lead_minutes == 30
    assert NoticePreference.objects.get(user=park.charlie).lead_minutes == 240


def test_the_page_lists_the_users_own_reminders_only(client, park):
    for user, title in ((park.alice, "Acme secret run"), (park.charlie, "Globex run")):
        Notice.objects.create(
            user=user,
            kind=NoticeKind.BOOKING_START,
            subject_id=1,
            threshold="lead",
            delivery=Delivery.IMMEDIATE,
            created_at=MONDAY,
            params={
                "title": title,
                "resource": "Confocal 1",
                "start": MONDAY.isoformat(),
                "end": MONDAY.isoformat(),
            },
        )
    client.force_login(park.charlie)
    text = client.get(URL).content.decode()
    assert "Globex run" in text and "Acme secret run" not in text
