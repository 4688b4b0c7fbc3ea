"""Settings for the test suite: the same as production code paths, with fast hashing and
tasks run inline (a test that needs the real queue starts a consumer itself)."""

import os

os.environ.setdefault("HUEY_IMMEDIATE", "1")
# Saving a booking or a membership in a test must not reconcile the dev cluster inline (the
# queue runs inline here); the reconciliation tests call it themselves.
os.environ.setdefault("SLURM_SYNC_ON_CHANGE", "0")

from config.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LOGGING = {"version": 1, "disable_existing_loggers": False}
