"""axe-core (vendored under static/vendor/) over every page, on a desktop and on a phone: no
serious or critical violation."""

from __future__ import annotations

import pytest

from tests.browser.pages import fill_park, pages_of, visit

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

AXE = "/static/vendor/axe-core-4.14.1.min.js"


def serious_violations(page) -> list[dict]:
    page.add_script_tag(url=AXE)  # from this server, as the Content-Security-Policy allows
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"][:3]],
        }
        for v in result["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


@pytest.mark.parametrize("lang, width", [("en", 1280), ("zh-hant", 390)])
def test_no_serious_accessibility_violation_on_any_page(page, live_server, park, lang, width):
    data = fill_park(park)
    page.set_viewport_size({"width": width, "height": 900})
    sessions: dict = {}
    found = {}
    for path, who in pages_of(park, data):
        visit(page, live_server.url, path, who, lang, sessions)
        violations = serious_violations(page)
        if violations:
            found[f"{who} {path}"] = violations
    assert found == {}, found
