"""JWT tokens for slurmrestd: minted with the cluster's HS256 key, or one supplied token."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import jwt

from .errors import SlurmError


class TokenSource:
    """Gives the token to send for a user name.

    With a key (the ``jwt_key`` of slurm.conf's ``AuthAltParameters``) it mints tokens for any user
    (claims ``sun``, ``iat``, ``exp``) and mints a new one ``refresh_margin`` seconds before expiry.
    With a fixed token it serves only the configured user.
    """

    def __init__(
        self,
        *,
        user: str,
        key: bytes | None = None,
        token: str | None = None,
        lifetime: int = 3600,
        refresh_margin: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not key and not token:
            raise ValueError("a JWT key or a token is needed to talk to slurmrestd")
        if lifetime <= refresh_margin:
            raise ValueError("token lifetime must exceed the refresh margin")
        self.user = user
        self._key = key
        self._token = token
        self._lifetime = lifetime
        self._margin = refresh_margin
        self._clock = clock
        self._cache: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_key_file(cls, path: str | Path, *, user: str, **kwargs: object) -> TokenSource:
        return cls(user=user, key=Path(path).read_bytes(), **kwargs)  # type: ignore[arg-type]

    @property
    def can_mint(self) -> bool:
        return self._key is not None

    def token_for(self, user: str | None = None) -> str:
        user = user or self.user
        if self._key is None:
            if user != self.user:
                raise SlurmError(
                    f"only a token for {self.user!r} is configured; cannot act as {user!r}"
                )
            return self._token  # type: ignore[return-value]
        now = self._clock()
        with self._lock:
            cached = self._cache.get(user)
            if cached and cached[1] - now > self._margin:
                return cached[0]
            token = mint_token(self._key, user=user, lifetime=self._lifetime, now=now)
            self._cache[user] = (token, now + self._lifetime)
            return token


def mint_token(key: bytes, *, user: str, lifetime: int, now: float | None = None) -> str:
    """An HS256 token slurmctld accepts for ``user`` (``sun`` = Slurm user name)."""
    issued = int(now if now is not None else time.time())
    return jwt.encode(
        {"iat": issued, "exp": issued + lifetime, "sun": user}, key, algorithm="HS256"
    )
