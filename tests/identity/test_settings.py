"""Single sign-on settings come from the environment; half a configuration stops start-up with
a message naming the variables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _start(tmp_path, **extra) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "OIDC_"))}
    env.update(
        PARK_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        DJANGO_SETTINGS_MODULE="config.settings",
        **extra,
    )
    script = "import django; django.setup(); from django.conf import settings as s; "
    script += "print('enabled', s.OIDC_ENABLED, s.OIDC_ISSUER, s.OIDC_RP_SCOPES)"
    return subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )


@pytest.mark.slow
def test_single_sign_on_is_off_unless_configured(tmp_path):
    result = _start(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "enabled False" in result.stdout


@pytest.mark.slow
def test_single_sign_on_is_on_with_issuer_client_and_secret(tmp_path):
    result = _start(
        tmp_path,
        OIDC_ISSUER="https://id.park.example/",
        OIDC_CLIENT_ID="park-booking",
        OIDC_CLIENT_SECRET="from-the-environment",
    )
    assert result.returncode == 0, result.stderr
    assert "enabled True https://id.park.example openid email profile" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    "extra, words",
    [
        ({"OIDC_ISSUER": "https://id.park.example"}, "OIDC_ISSUER, OIDC_CLIENT_ID and"),
        (
            {
                "OIDC_ISSUER": "https://id.park.example",
                "OIDC_CLIENT_ID": "park-booking",
                "OIDC_CLIENT_SECRET": "s",
                "OIDC_SIGN_ALGO": "HS256",
            },
            "OIDC_SIGN_ALGO must be an RSA or EC algorithm",
        ),
    ],
)
def test_half_a_configuration_stops_start_up_naming_the_variable(tmp_path, extra, words):
    result = _start(tmp_path, **extra)
    assert result.returncode != 0
    assert words in result.stderr
