"""The apps under booking/ depend on each other one way only (imports inside functions count).

Allowed: tenancy ← tokens ← bookings ← rounds → scheduler/, bookings ← compute; the shared
modules of booking/ itself import no app; resources/ imports nothing of booking/; scheduler/
imports neither Django nor booking/. A new app adds its line to ``ALLOWED``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = {
    "tenancy": set(),
    "tokens": {"tenancy"},
    "bookings": {"tenancy", "tokens"},
    "rounds": {"tenancy", "tokens", "bookings"},
    # The approvers' queue decides on bookings (through booking_transition); nothing imports it
    # but the demo (config mounts its router, urls and navigation).
    "approvals": {"tenancy", "tokens", "bookings"},
    "compute": {"tenancy", "tokens", "bookings"},
    "usage": {"tenancy", "tokens", "bookings", "rounds", "compute"},
    "billing": {"tenancy", "tokens", "bookings", "compute", "usage"},
    # Reminders read bookings, rounds and quotas; nothing imports them.
    "notices": {"tenancy", "bookings", "rounds"},
    # Single sign-on reads memberships only (whether a new user belongs to a tenant yet).
    "identity": {"tenancy"},
    # The demo park builds through every app's services; nothing imports it.
    "demo": {
        "tenancy",
        "tokens",
        "bookings",
        "approvals",
        "rounds",
        "compute",
        "usage",
        "billing",
    },
}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _app_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "booking":
        return None
    return parts[1] if len(parts) > 1 and (ROOT / "booking" / parts[1]).is_dir() else "booking"


def test_apps_depend_on_each_other_one_way_only():
    wrong = []
    for path in sorted((ROOT / "booking").rglob("*.py")):
        rel = path.relative_to(ROOT)
        own = rel.parts[1] if len(rel.parts) > 2 else "booking"
        if "migrations" in rel.parts:
            continue
        allowed = ALLOWED.get(own, set()) | {own}
        if own != "booking" and own not in ALLOWED:
            wrong.append(f"{rel}: app {own!r} is not in ALLOWED")
            continue
        for module in _imports(path):
            target = _app_of(module)
            if target is None or target == "booking" and own != "booking":
                continue
            if target not in allowed:
                wrong.append(f"{rel} imports {module}")
    assert wrong == []


def test_resources_and_scheduler_sit_below_the_apps():
    wrong = []
    for package, forbidden in (("resources", ("booking",)), ("scheduler", ("booking", "django"))):
        for path in sorted((ROOT / package).rglob("*.py")):
            for module in _imports(path):
                if module.split(".")[0] in forbidden:
                    wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert wrong == []
