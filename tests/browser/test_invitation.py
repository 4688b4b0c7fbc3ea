"""A manager invites a new person in 繁體中文 in a real browser: the invite form on the members
page (answered by htmx), the e-mail with its signed link, the link opened in a fresh browser
whose reader asks for Hong Kong Chinese, a new account, and the new member in the list."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from booking.tenancy.models import Membership
from tests.browser.test_booking_flow import sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

LINK = re.compile(r"https?://\S+/invitations/\S+/")


def test_an_invitation_in_traditional_chinese(page, browser, live_server, park, shot):
    base = live_server.url
    mail.outbox.clear()
    sign_in(page, base, "bob", "pw-bob", "zh-hant")
    page.click("nav a[href='/tenants/acme/members/']")
    page.wait_for_url(re.compile(r"/tenants/acme/members/$"))
    expect(page.locator("h1")).to_have_text("Acme Robotics 的成員")
    expect(page.locator("label[for=id_email]")).to_have_text("電郵地址：")
    assert page.input_value("#id_language") == "zh-hant"  # the inviter's language
    page.fill("#id_email", "dana@acme.example")
    page.select_option("#id_role", "member")
    page.evaluate("window.__stayed = true")
    page.click("#invite-form button[type=submit]")
    expect(page.locator("#members .ok")).to_have_text("已向 dana@acme.example 發出邀請。")
    assert page.evaluate("window.__stayed === true")  # htmx answered, no reload
    expect(
        page.locator("#members ul.invitations li[data-email='dana@acme.example']")
    ).to_contain_text("成員")
    expect(page.locator("#id_email")).to_have_value("")  # a fresh form for the next one
    main = page.locator("main").inner_text()
    for english in (
        "Members",
        "Invite",
        "Role",
        "Cluster user name",
        "Pending",
        "Withdraw",
        "Remove",
    ):
        assert english not in main, english
    shot(page, "zh_hant-invitation-01-sent")

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["dana@acme.example"]
    assert message.subject == "邀請您加入 Acme Robotics"
    assert "此連結只可使用一次" in message.body
    link = LINK.search(message.body).group(0)
    assert link.startswith(base)

    # The invited person opens the link in their own browser, which asks for zh-HK.
    context = browser.new_context(locale="zh-HK", viewport={"width": 1360, "height": 900})
    try:
        guest = context.new_page()
        guest.goto(link)
        assert guest.locator("html").get_attribute("lang") == "zh-hant"
        expect(guest.locator("h1")).to_have_text("加入 Acme Robotics")
        expect(guest.locator("main")).to_contain_text("此邀請是發給 dana@acme.example 的")
        assert guest.input_value("#id_username") == "dana"
        guest.fill("#id_first_name", "Dana")
        guest.fill("#id_password1", "a long pass 42")
        guest.fill("#id_password2", "a long pass 42")
        shot(guest, "zh_hant-invitation-02-accept")
        with guest.expect_navigation():
            guest.click("#accept-form button[type=submit]")
        assert guest.url == f"{base}/"
        expect(guest.locator(".messages")).to_contain_text("歡迎加入 Acme Robotics。")
        expect(guest.locator("header .who")).to_have_text("Dana")
        shot(guest, "zh_hant-invitation-03-joined")

        # The link works once: opened again it says so, in the reader's language.
        guest.context.clear_cookies()
        guest.goto(link)
        expect(guest.locator("h1")).to_have_text("此邀請已被使用")
        assert "invitation" not in guest.locator("main").inner_text().lower()
    finally:
        context.close()

    membership = Membership.objects.get(user__username="dana", tenant=park.acme)
    assert membership.role == Membership.Role.MEMBER

    page.reload()
    row = page.locator("tr[data-username='dana']")
    expect(row).to_contain_text("Dana")
    expect(row.locator("select[name=role]")).to_have_value("member")
    expect(page.locator("#members")).to_contain_text("沒有待接受的邀請。")
    shot(page, "zh_hant-invitation-04-member-listed")
