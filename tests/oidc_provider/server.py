"""Start and stop the test identity provider in its own process.

The provider is django-oauth-toolkit in the tiny project beside this file: its own settings, a
fresh SQLite file and RSA signing key in a temporary folder, its users and clients created by
``manage provider_setup``, served by Django's ``runserver`` on a free loopback port.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import django
import httpx
import oauth2_provider
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "var" / "test-oidc-provider"


@dataclass
class Provider:
    issuer: str
    process: subprocess.Popen
    log: Path

    @property
    def login_url(self) -> str:
        return self.issuer.rsplit("/o", 1)[0] + "/accounts/login/"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _signing_key() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def provider_start(*, folder: Path, users: list[dict], clients: list[dict]) -> Provider:
    """Start a provider whose issuer is ``http://127.0.0.1:<port>/o`` with the given users
    (username, password, email, email_verified, first_name, last_name) and clients
    (client_id, client_secret, redirect_uris). Returns once its discovery document answers."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "signing-key.pem").write_bytes(_signing_key())
    (folder / "provider.sqlite3").unlink(missing_ok=True)
    spec = folder / "spec.json"
    spec.write_text(json.dumps({"users": users, "clients": clients}))
    port = _free_port()
    issuer = f"http://127.0.0.1:{port}/o"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.oidc_provider.settings",
        "PYTHONPATH": str(ROOT),
        "PROVIDER_DIR": str(folder),
        "PROVIDER_ISSUER": issuer,
    }
    manage = [sys.executable, "-m", "django"]
    # A migrated empty database is kept under var/ for the next run (migrating takes seconds).
    template = (
        CACHE / f"migrated-django{django.__version__}-dot{oauth2_provider.__version__}.sqlite3"
    )
    if template.exists():
        shutil.copyfile(template, folder / "provider.sqlite3")
    else:
        subprocess.run(manage + ["migrate", "--noinput", "-v", "0"], env=env, cwd=ROOT, check=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = template.with_suffix(f".{os.getpid()}.part")
        shutil.copyfile(folder / "provider.sqlite3", partial)
        partial.replace(template)
    subprocess.run(manage + ["provider_setup", str(spec)], env=env, cwd=ROOT, check=True)
    log = folder / "provider.log"
    process = subprocess.Popen(
        manage + ["runserver", f"127.0.0.1:{port}", "--noreload"],
        env=env,
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    provider = Provider(issuer=issuer, process=process, log=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the identity provider stopped: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{issuer}/.well-known/openid-configuration").status_code == 200:
                return provider
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    provider.stop()
    raise RuntimeError(f"the identity provider did not answer: {log.read_text()[-2000:]}")
