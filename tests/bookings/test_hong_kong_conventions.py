"""Hong Kong conventions: day/month/year and the 24-hour clock in English, durations in hours
and days, and Django's own strings on our pages in the reader's language."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models.fields import BLANK_CHOICE_LABEL
from django.utils import formats, translation

from booking.rounds.templatetags.park_format import duration_words


def test_english_dates_read_day_first_with_the_24_hour_clock():
    moment = dt.datetime(2026, 3, 12, 14, 5)
    with translation.override("en"):
        assert formats.date_format(moment, "SHORT_DATETIME_FORMAT") == "12/03/2026 14:05"
        assert formats.date_format(moment, "DATETIME_FORMAT") == "12 March 2026, 14:05"
        assert formats.time_format(moment.time()) == "14:05"
        assert formats.get_format("FIRST_DAY_OF_WEEK") == 1


@pytest.mark.parametrize(
    "minutes, en, hant",
    [
        (240, "4 h", "4 小時"),
        (4320, "3 days", "3 天"),
        (1440, "1 day", "1 天"),
        (90, "1 h 30 min", "1 小時 30 分鐘"),
        (30, "30 min", "30 分鐘"),
        (2160, "36 h", "36 小時"),
    ],
)
def test_durations_read_in_hours_and_days(minutes, en, hant):
    with translation.override("en"):
        assert duration_words(minutes) == en
    with translation.override("zh-hant"):
        assert duration_words(minutes) == hant


def test_resource_rules_speak_hours_and_days(client, park):
    park.confocal.min_length_minutes = 240
    park.confocal.max_length_minutes = 4320
    park.confocal.min_notice_minutes = 1440
    park.confocal.save()
    client.force_login(park.alice)
    html = client.get(f"/resources/{park.confocal.slug}/").content.decode()
    assert "4 h – 3 days per booking" in html
    assert "booked at least 1 day ahead" in html
    assert "minutes per booking" not in html and "minutes' notice" not in html
    html = client.get(
        f"/resources/{park.confocal.slug}/", headers={"Accept-Language": "zh-hans"}
    ).content.decode()
    assert "每次预约 4 小时 至 3 天" in html


@pytest.mark.parametrize("lang, words", [("zh-hant", "請選擇"), ("zh-hans", "请选择")])
def test_djangos_empty_choice_label_is_translated(lang, words):
    with translation.override(lang):
        assert words in str(BLANK_CHOICE_LABEL)
