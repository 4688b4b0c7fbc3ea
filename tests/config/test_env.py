from pathlib import Path

import pytest

from config.env import ConfigError, database_from_url, env_bool, env_int


def test_sqlite_url_becomes_a_file_under_the_base_dir():
    db = database_from_url("sqlite:///var/x.sqlite3", base_dir=Path("/srv/app"))
    assert db["ENGINE"].endswith("sqlite3") and db["NAME"] == "/srv/app/var/x.sqlite3"


def test_absolute_sqlite_path_is_kept():
    assert database_from_url("sqlite:////tmp/a.db", base_dir=Path("/x"))["NAME"] == "/tmp/a.db"


def test_postgres_url_is_parsed():
    db = database_from_url(
        "postgres://park:s%40cret@db.local:5433/parkdb?sslmode=require", base_dir=Path("/")
    )
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "park",
        "s@cret",
        "db.local",
        "5433",
        "parkdb",
    )
    assert db["OPTIONS"] == {"sslmode": "require"}


def test_unknown_database_scheme_is_refused_by_name():
    with pytest.raises(ConfigError, match="mysql"):
        database_from_url("mysql://x/y", base_dir=Path("/"))


def test_malformed_booleans_and_integers_name_the_variable(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ConfigError, match="DEBUG"):
        env_bool("DEBUG", True)
    monkeypatch.setenv("HUEY_WORKERS", "two")
    with pytest.raises(ConfigError, match="HUEY_WORKERS"):
        env_int("HUEY_WORKERS", 2)


def test_secret_key_is_required_when_debug_is_off(tmp_path):
    import subprocess
    import sys

    env = {
        "DEBUG": "0",
        "PATH": "/usr/bin:/bin",
        "PARK_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr
