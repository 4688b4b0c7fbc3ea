"""Sign in as the demo member through Chromium against a running server (scripts/prod-smoke)."""

from __future__ import annotations

import sys

from playwright.sync_api import sync_playwright

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def main(base: str) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page()
        # A shared CI machine can be slow: a first request per worker loads templates and
        # catalogues, and a sign-in hashes the password.
        page.set_default_timeout(120_000)
        violations: list[str] = []
        page.on(
            "console",
            lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
        )
        response = page.goto(f"{base}/accounts/login/")
        assert response.status == 200, response.status
        assert "script-src 'self'" in response.headers["content-security-policy"]
        css = page.request.get(
            f"{base}{page.locator('link[rel=stylesheet]').get_attribute('href')}"
        )
        assert css.status == 200 and "max-age" in css.headers.get("cache-control", ""), css.headers
        page.fill("input[name=username]", "member")
        page.fill("input[name=password]", "park-demo")
        page.click("main button[type=submit]")
        page.wait_for_url(f"{base}/")
        assert page.locator("form.logout").count() == 1, "not signed in"
        page.goto(f"{base}/resources/")
        assert page.locator("h1").count() >= 1
        assert not violations, violations
        browser.close()
    print(f"signed in as member at {base}; static files and CSP in place")


if __name__ == "__main__":
    main(sys.argv[1])
