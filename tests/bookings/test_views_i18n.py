"""The member pages speak 繁體中文 and 简体中文: no English of the main UI left, messages and the
planner's reasons translated, dates in the locale's form, and both catalogues complete."""

from __future__ import annotations

import datetime as dt
import gettext
import html
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from booking.bookings.models import Booking, BookingStatus
from booking.bookings.services import booking_create_instant
from booking.compute.models import ComputeJob, JobState

LOCALE = Path(__file__).resolve().parents[2] / "locale"

# The English of the main UI: none of it may show on a Chinese page.
MAIN_UI = [
    "Overview",
    "Catalogue",
    "My bookings",
    "Calendar feed",
    "Sign out",
    "Book a slot",
    "Previous week",
    "Next week",
    "Busy",
    "Closed",
    "Your bookings",
    "Title",
    "Status",
    "Reason",
    "Cancel",
    "Quota use in the current period",
    "Book equipment",
    "Filter",
    "Reset",
    "Lab instrument",
    "GPU node",
    "Confirmed",
    "Refused",
    "History",
    "Training needed",
    "Instant booking",
    "minutes per booking",
    "days ahead",
    "Planner's reason",
    "Booked by",
    "Compute jobs",
    "Time limit",
    "Exit code",
    "Output",
    "Submitted",
    "not readable from this server",
]


def at(days: int, hour: int) -> dt.datetime:
    day = timezone.localdate() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=timezone.get_current_timezone())


def visible_text(response) -> str:
    body = response.content.decode()
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", body, flags=re.S)
    body = re.sub(r"<select[^>]*name=\"language\".*?</select>", " ", body, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


@pytest.fixture(autouse=True)
def english_afterwards():
    """A Chinese request leaves its language active in the thread; later tests expect English."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def alice_zh(client, park):
    client.force_login(park.alice)
    client.cookies["django_language"] = "zh-hant"
    return client


@pytest.fixture
def pages(park):
    booking = booking_create_instant(
        user=park.alice,
        tenant=park.acme,
        resource=park.confocal,
        start=at(2, 10),
        end=at(2, 11),
        title="Cells",
    )
    refused = Booking.objects.create(
        tenant=park.acme,
        user=park.alice,
        resource=park.xrd,
        title="Scan",
        earliest_start=at(3, 8),
        latest_end=at(3, 18),
        duration_minutes=120,
        status=BookingStatus.REFUSED,
        reason_code="no_feasible_start",
        reason_text="Refused: no start in the requested window fits.",
    )
    job = ComputeJob.objects.create(
        tenant=park.acme,
        user=park.alice,
        name="train",
        script="#!/bin/bash\nfalse\n",
        partition="gpu",
        gpus=1,
        time_limit_minutes=90,
        state=JobState.FAILED,
        slurm_job_id=4711,
        submitted_at=at(-1, 9),
        started_at=at(-1, 9),
        ended_at=at(-1, 10),
        exit_code=3,
        reason="The script exited with code 3.",
        reason_code="script_exit",
        reason_params={"code": 3},
    )
    week = at(2, 0).date().isoformat()
    return {
        "home": reverse("home"),
        "catalogue": reverse("catalogue"),
        "resource": reverse("resource", args=["confocal-1"]) + f"?week={week}",
        "round resource": reverse("resource", args=["xrd"]),
        "my bookings": reverse("my_bookings"),
        "booking": reverse("booking_detail", args=[booking.pk]),
        "refused request": reverse("booking_detail", args=[refused.pk]),
        "calendar feed": reverse("calendar_feed_settings"),
        "compute jobs": reverse("my_jobs"),
        "job": reverse("job_detail", args=[job.pk]),
    }


def test_pages_in_traditional_chinese_have_no_english_of_the_main_ui(alice_zh, pages):
    for name, url in pages.items():
        response = alice_zh.get(url)
        assert response.status_code == 200, name
        text = visible_text(response)
        left = [s for s in MAIN_UI if re.search(rf"\b{re.escape(s)}\b", text)]
        assert left == [], f"{name}: untranslated {left}"


def test_pages_in_simplified_chinese_have_no_english_of_the_main_ui(client, park, pages):
    client.force_login(park.alice)
    client.cookies["django_language"] = "zh-hans"
    for name, url in pages.items():
        text = visible_text(client.get(url))
        left = [s for s in MAIN_UI if re.search(rf"\b{re.escape(s)}\b", text)]
        assert left == [], f"{name}: untranslated {left}"
    assert "我的预约" in visible_text(client.get(pages["my bookings"]))


def test_dates_are_in_the_chinese_form(alice_zh, pages):
    text = visible_text(alice_zh.get(pages["resource"]))
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日", text)


def test_the_planners_reason_is_shown_in_the_readers_language(alice_zh, pages):
    text = visible_text(alice_zh.get(pages["refused request"]))
    assert "已拒絕" in text and "Refused: no start" not in text


def test_a_jobs_reason_and_time_limit_are_shown_in_the_readers_language(alice_zh, pages):
    text = visible_text(alice_zh.get(pages["job"]))
    assert "腳本以代碼 3 結束。" in text and "exited with code" not in text
    assert "1 小時 30 分鐘" in text and "無法從此伺服器讀取輸出檔案" in text


def test_live_validation_speaks_chinese(alice_zh, park):
    response = alice_zh.post(
        reverse("booking_validate", args=["confocal-1"]),
        {
            "tenant": park.acme.pk,
            "start": timezone.localtime(at(2, 19)).strftime("%Y-%m-%dT%H:%M"),
            "end": timezone.localtime(at(2, 21)).strftime("%Y-%m-%dT%H:%M"),
        },
        HTTP_HX_REQUEST="true",
    )
    text = visible_text(response)
    assert "開放時間" in text and "不開放" in text
    assert "start" not in text and "closed" not in text


def test_mail_goes_out_in_the_language_of_the_request(client, park, mailoutbox):
    client.force_login(park.alice)
    client.cookies["django_language"] = "zh-hans"
    url = reverse("booking_submit", args=["confocal-1"])
    data = {
        "tenant": park.acme.pk,
        "title": "Cells",
        "start": timezone.localtime(at(2, 10)).strftime("%Y-%m-%dT%H:%M"),
        "end": timezone.localtime(at(2, 11)).strftime("%Y-%m-%dT%H:%M"),
    }
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        assert client.post(url, data).status_code == 302
    assert len(mailoutbox) == 1
    assert "已确认" in mailoutbox[0].subject and "您的预约已确认" in mailoutbox[0].body


def test_mail_is_written_in_the_recipients_language_whoever_acts(park, mailoutbox):
    from django.test import TestCase
    from django.utils import translation

    from booking.bookings.services import booking_create_instant
    from booking.tenancy.services import language_remember
    from resources.models import Resource

    language_remember(user=park.alice, language="zh-hans")
    with translation.override("en"), TestCase.captureOnCommitCallbacks(execute=True):
        booking_create_instant(
            user=park.alice,
            tenant=park.acme,
            resource=Resource.objects.get(slug="confocal-1"),
            start=at(2, 10),
            end=at(2, 11),
            title="Cells",
        )
    assert len(mailoutbox) == 1
    assert "已确认" in mailoutbox[0].subject


def _unescape(value: str) -> str:
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(1)), value)


def _entries(po: Path) -> list[dict]:
    """The entries of a .po file (header excluded), each with a ``fuzzy`` flag."""
    entries, entry = [], {}
    text = po.read_text(encoding="utf-8")
    for block in re.split(r"\n\s*\n", text):
        lines = [line for line in block.splitlines() if line.strip()]
        if not lines or all(line.startswith("#~") for line in lines):
            continue
        fuzzy = any(line.startswith("#,") and "fuzzy" in line for line in lines)
        entry, key = {}, None
        for line in lines:
            if line.startswith("#"):
                continue
            match = re.match(r'^(msgid|msgid_plural|msgstr(?:\[\d+\])?|msgctxt) "(.*)"$', line)
            if match:
                key = match.group(1)
                entry[key] = match.group(2)
            elif line.startswith('"') and key:
                entry[key] += line[1:-1]
        if not entry.get("msgid"):
            continue  # the header
        entry["fuzzy"] = fuzzy
        entries.append(entry)
    return entries


@pytest.mark.parametrize("language", ["zh_Hant", "zh_Hans"])
def test_every_message_of_the_project_is_translated(language):
    po = LOCALE / language / "LC_MESSAGES" / "django.po"
    mo = po.with_suffix(".mo")
    assert po.exists() and mo.exists()
    entries = _entries(po)
    assert len(entries) > 100
    untranslated = [
        e["msgid"]
        for e in entries
        if e["fuzzy"] or not any(v for k, v in e.items() if k.startswith("msgstr"))
    ]
    assert untranslated == []
    # The compiled catalogue holds every message too (compilemessages was run and committed).
    with mo.open("rb") as handle:
        catalog = gettext.GNUTranslations(handle)._catalog
    compiled = {key[0] if isinstance(key, tuple) else key for key in catalog}
    missing = [e["msgid"] for e in entries if _unescape(e["msgid"]) not in compiled]
    assert missing == [], "run `make messages` and commit the .mo files"
