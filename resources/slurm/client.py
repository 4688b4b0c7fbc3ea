"""A small typed client for slurmrestd.

Retry policy (why it is shaped this way):

* Only transient failures are retried, with exponential backoff and jitter: the connection could
  not be made, the request timed out, a proxy said 502/503/504, or Slurm said slurmctld is
  unreachable. A Slurm refusal (HTTP 500 with a Slurm error code, 400, 401) is raised at once.
* Reads and cancels are idempotent and are retried on any transient failure.
* A submit is retried only when the request surely did not reach Slurm (connection refused, connect
  timeout, 503). After an *ambiguous* failure - the request was sent but no answer came (read
  timeout, dropped connection, 502/504) - Slurm may have queued the job, so a blind retry could run
  it twice. Then ``submit`` raises ``SlurmError(ambiguous=True)``, unless the caller passes a
  ``reconcile`` hook: it is called (after the backoff) to look for the job (e.g. by its unique name),
  and its answer is returned if it found one; only if it found none is the submit sent again.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from .errors import SlurmError
from .payloads import PayloadMapping, mapping_for
from .tokens import TokenSource
from .types import (
    AccountInfo,
    AssociationInfo,
    JobInfo,
    JobSpec,
    NodeInfo,
    PartitionInfo,
    PingInfo,
    ReservationInfo,
)

log = logging.getLogger(__name__)

# Slurm error codes that mean "could not talk to slurmctld/slurmdbd", not "no".
# 1800-1803: SLURMCTLD communications connection/send/receive/shutdown errors;
# 1007/1008/1010: socket errors and timeouts; 7000/7001: slurmdbd connection errors; 11: EAGAIN.
TRANSIENT_SLURM_CODES = frozenset({11, 1007, 1008, 1010, 1800, 1801, 1802, 1803, 7000, 7001})
# Of those, the ones where a submit surely never reached the controller.
NOT_SENT_SLURM_CODES = frozenset({1800, 7000})
_TRANSIENT_HTTP = frozenset({502, 503, 504})
_NOT_SENT_HTTP = frozenset({503})


@dataclass(frozen=True, kw_only=True)
class SlurmConfig:
    """How to reach slurmrestd. Either ``jwt_key_file`` (tokens are minted) or ``token``."""

    base_url: str
    user: str
    api_version: str = "v0.0.38"
    jwt_key_file: str | None = None
    token: str | None = None
    cluster: str | None = None
    timeout: float = 10.0
    connect_timeout: float = 3.0
    retries: int = 4
    backoff: float = 0.2
    backoff_max: float = 3.0
    token_lifetime: int = 3600
    token_refresh_margin: int = 300


class SlurmClient:
    """Typed calls to slurmrestd. Thread-safe; keeps connections alive. Close it when done."""

    def __init__(
        self,
        config: SlurmConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.mapping: PayloadMapping = mapping_for(config.api_version)
        key = Path(config.jwt_key_file).read_bytes() if config.jwt_key_file else None
        self.tokens = TokenSource(
            user=config.user,
            key=key,
            token=config.token,
            lifetime=config.token_lifetime,
            refresh_margin=config.token_refresh_margin,
            clock=clock,
        )
        self._sleep = sleep
        self._clock = clock
        self._http = httpx.Client(
            base_url=config.base_url.rstrip("/"),
            timeout=httpx.Timeout(config.timeout, connect=config.connect_timeout),
            transport=transport,
            headers={"Accept": "application/json"},
        )
        self._random = random.Random()
        self._random_lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SlurmClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- jobs ---------------------------------------------------------------------------------

    def submit(
        self,
        spec: JobSpec,
        *,
        user: str | None = None,
        reconcile: Callable[[], int | None] | None = None,
    ) -> int:
        """Submit a batch job; returns Slurm's job id.

        Raises ``SlurmError``: a refusal (``transient`` False) carries Slurm's error code; an
        ambiguous failure (``ambiguous`` True) means the job may exist - see the module docstring
        for ``reconcile``.
        """
        body = self.mapping.encode_job(spec, now=datetime.fromtimestamp(self._clock(), tz=UTC))
        attempt = 0
        while True:
            try:
                answer = self._send("POST", self.mapping.path("submit"), json=body, user=user)
                return self.mapping.decode_submit(answer)
            except SlurmError as error:
                if not error.transient or attempt >= self.config.retries:
                    raise
                if error.ambiguous:
                    if reconcile is None:
                        raise
                    self._backoff(attempt)
                    found = reconcile()
                    if found is not None:
                        log.info("submit of %s found as job %s after %s", spec.name, found, error)
                        return found
                else:
                    self._backoff(attempt)
                attempt += 1

    def get_job(self, job_id: int, *, user: str | None = None) -> JobInfo | None:
        """The job from slurmctld, or None when it does not know it (any more)."""
        try:
            body = self._call("GET", self.mapping.path("job", job_id=int(job_id)), user=user)
        except SlurmError as error:
            if error.error_code == 2017:  # ESLURM_INVALID_JOB_ID: purged or never existed
                return None
            raise
        jobs = self.mapping.decode_jobs(body)
        return jobs[0] if jobs else None

    def list_jobs(
        self,
        *,
        if_changed_since: datetime | None = None,
        job_ids: Iterable[int] | None = None,
        name_prefix: str | None = None,
        user: str | None = None,
    ) -> list[JobInfo] | None:
        """Jobs slurmctld knows, filtered here by ``job_ids`` / ``name_prefix`` (before decoding).

        slurmctld sends its whole job table (megabytes on a busy cluster) - there is no server-side
        filter in v0.0.38 except ``if_changed_since``: when no job at all changed since then the
        answer is None ("not modified") and costs nothing. For a few jobs, ``get_job`` each.
        """
        params = {}
        if if_changed_since is not None:
            params["update_time"] = int(if_changed_since.timestamp())
        body = self._call("GET", self.mapping.path("jobs"), params=params, user=user)
        if not body:
            return None
        wanted = None if job_ids is None else {int(i) for i in job_ids}
        return self.mapping.decode_jobs(body, job_ids=wanted, name_prefix=name_prefix)

    def cancel(self, job_id: int, *, user: str | None = None) -> bool:
        """Cancel (SIGKILL) the job. False when Slurm no longer knows it; a finished job is a no-op."""
        try:
            self._call("DELETE", self.mapping.path("job", job_id=int(job_id)), user=user)
        except SlurmError as error:
            if error.error_code == 2017:
                return False
            if error.error_code == 2021:  # ESLURM_ALREADY_DONE
                return True
            raise
        return True

    def accounting_job(
        self, job_id: int, *, name: str | None = None, user: str | None = None
    ) -> JobInfo | None:
        """The job from slurmdbd's accounting (survives MinJobAge), or None.

        Accounting keeps every job a cluster ever ran, and a cluster whose controller state was
        reset numbers its jobs from the start again, so one id may name several jobs: the record
        with the given ``name`` (when one is given) and the latest submission wins."""
        try:
            body = self._call("GET", self.mapping.path("db_job", job_id=int(job_id)), user=user)
        except SlurmError as error:
            if error.http_status == 404 or error.error_code in (2017, 9003):
                return None
            raise
        jobs = [
            job
            for job in self.mapping.decode_accounting_jobs(body)
            if job.job_id == int(job_id) and (name is None or job.name == name)
        ]
        if not jobs:
            return None
        epoch = datetime.min.replace(tzinfo=UTC)
        return max(jobs, key=lambda job: job.submit_time or epoch)

    def accounting_jobs(
        self, *, name: str | None = None, since: datetime | None = None, user: str | None = None
    ) -> list[JobInfo]:
        """Jobs from slurmdbd, by exact job name and/or submitted since a time."""
        params: dict[str, Any] = {}
        if name:
            params["job_name"] = name
        if since is not None:
            params["start_time"] = int(since.timestamp())
        body = self._query("GET", self.mapping.path("db_jobs"), params=params, user=user)
        return self.mapping.decode_accounting_jobs(body)

    # --- cluster ------------------------------------------------------------------------------

    def ping(self) -> PingInfo:
        return self.mapping.decode_ping(self._call("GET", self.mapping.path("ping")))

    def nodes(self) -> list[NodeInfo]:
        return self.mapping.decode_nodes(self._call("GET", self.mapping.path("nodes")))

    def partitions(self) -> list[PartitionInfo]:
        return self.mapping.decode_partitions(self._call("GET", self.mapping.path("partitions")))

    def reservations(self) -> list[ReservationInfo]:
        """Reservations slurmctld holds (read only: v0.0.38 cannot write them)."""
        return self.mapping.decode_reservations(
            self._call("GET", self.mapping.path("reservations"))
        )

    # --- accounting (slurmdbd) ----------------------------------------------------------------

    def accounts(self) -> list[AccountInfo]:
        return self.mapping.decode_accounts(self._query("GET", self.mapping.path("accounts")))

    def add_accounts(self, accounts: Iterable[AccountInfo]) -> None:
        """Create accounts (existing ones are left as they are). Needs a Slurm administrator."""
        self._call(
            "POST", self.mapping.path("accounts"), json=self.mapping.encode_accounts(accounts)
        )

    def associations(
        self, *, account: str | None = None, user: str | None = None
    ) -> list[AssociationInfo]:
        params = {k: v for k, v in {"account": account, "user": user}.items() if v}
        body = self._query("GET", self.mapping.path("associations"), params=params)
        return self.mapping.decode_associations(body)

    def add_associations(self, associations: Iterable[AssociationInfo]) -> None:
        """Let users submit under accounts. Needs a Slurm administrator."""
        body = self.mapping.encode_associations(associations)
        self._call("POST", self.mapping.path("associations"), json=body)

    def delete_association(self, *, account: str, user: str) -> None:
        """Remove one user's association with an account on this cluster."""
        params = {"account": account, "user": user, "cluster": self.config.cluster or ""}
        body = self._query("DELETE", self.mapping.path("association"), params=params)
        if not body.get("removed_associations"):
            # slurmdbd answers 200 and keeps an association that still has jobs.
            raise SlurmError(
                f"association {account}/{user} not removed (jobs of it may still be queued)"
            )

    def delete_account(self, account: str) -> None:
        """Remove an account (and its associations)."""
        self._query("DELETE", self.mapping.path("account", name=account))

    def users(self) -> set[str]:
        body = self._query("GET", self.mapping.path("users"))
        return {u["name"] for u in body.get("users") or [] if u.get("name")}

    def add_users(self, users: Iterable[str], *, default_account: str) -> None:
        """Create Slurm users (needed before their first association)."""
        body = {
            "users": [{"name": u, "default": {"account": default_account}} for u in users],
        }
        self._call("POST", self.mapping.path("users"), json=body)

    def ensure_account(
        self, account: str, *, users: Iterable[str] = (), description: str = ""
    ) -> None:
        """Make ``account`` exist on this cluster with an association for each of ``users``."""
        cluster = self.config.cluster
        if not cluster:
            raise SlurmError("SLURM_CLUSTER is needed to manage accounts")
        if account not in {a.name for a in self.accounts()}:
            self.add_accounts([AccountInfo(name=account, description=description or account)])
        have = {a.user for a in self.associations(account=account) if a.cluster == cluster}
        missing = [u for u in users if u not in have]
        if cluster not in {a.cluster for a in self.associations(account=account)}:
            # The account's own association on the cluster must exist before users join it.
            self.add_associations([AssociationInfo(account=account, user=None, cluster=cluster)])
        if missing:
            self.add_associations(
                [AssociationInfo(account=account, user=u, cluster=cluster) for u in missing]
            )

    # --- transport ----------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        user: str | None = None,
    ) -> dict[str, Any]:
        """An idempotent request: retried on any transient failure."""
        attempt = 0
        while True:
            try:
                return self._send(method, path, json=json, params=params, user=user)
            except SlurmError as error:
                if not error.transient or attempt >= self.config.retries:
                    raise
                log.debug("slurmrestd %s %s: %s; retrying", method, path, error)
                self._backoff(attempt)
                attempt += 1

    def _query(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """A slurmdbd query: "nothing found" is an empty answer, not an error."""
        try:
            return self._call(method, path, **kwargs)
        except SlurmError as error:
            if error.error_code == 9003:  # ESLURM_REST_EMPTY_RESULT
                return {}
            raise

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        user: str | None = None,
    ) -> dict[str, Any]:
        """One request, with failures classified into SlurmError."""
        user = user or self.config.user
        headers = {"X-SLURM-USER-NAME": user, "X-SLURM-USER-TOKEN": self.tokens.token_for(user)}
        try:
            response = self._http.request(method, path, json=json, params=params, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise SlurmError(f"cannot reach slurmrestd: {exc!r}", transient=True) from exc
        except httpx.TransportError as exc:
            # Sent (or partly sent) but no answer: the request may have been carried out.
            raise SlurmError(
                f"no answer from slurmrestd: {exc!r}", transient=True, ambiguous=True
            ) from exc
        status = response.status_code
        if status == 304:  # "nothing changed since update_time"
            return {}
        body = _json_or_none(response)
        errors = self.mapping.decode_errors(body) if body else []
        if status < 300:
            # Errors in a 2xx answer are notes (a held job gets 2042 "held state"), not failures.
            if errors:
                log.debug("slurmrestd %s %s answered with notes: %s", method, path, errors)
            return body or {}
        if status in _TRANSIENT_HTTP:
            raise SlurmError(
                f"slurmrestd unavailable (HTTP {status})",
                http_status=status,
                transient=True,
                ambiguous=status not in _NOT_SENT_HTTP,
            )
        first = errors[0] if errors else {}
        code = first.get("error_code")
        message = first.get("description") or first.get("error") or _short(response.text)
        if first.get("error") and first.get("description") and first["error"] not in message:
            message = f"{first['error']}: {message}"
        transient = code in TRANSIENT_SLURM_CODES
        raise SlurmError(
            message or f"HTTP {status}",
            error_code=code,
            http_status=status,
            transient=transient,
            ambiguous=transient and code not in NOT_SENT_SLURM_CODES,
            errors=errors,
        )

    def _backoff(self, attempt: int) -> None:
        base = min(self.config.backoff_max, self.config.backoff * (2**attempt))
        with self._random_lock:
            jitter = 0.5 + self._random.random() / 2
        self._sleep(base * jitter)


def _json_or_none(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def config_from_env(environ: Mapping[str, str]) -> SlurmConfig:
    """A config from ``SLURM_*`` variables (as written by scripts/slurm-dev-cluster)."""
    url = environ.get("SLURM_REST_URL")
    if not url:
        raise SlurmError("SLURM_REST_URL is not set")
    return SlurmConfig(
        base_url=url,
        user=environ.get("SLURM_USER") or "slurm",
        api_version=environ.get("SLURM_API_VERSION") or "v0.0.38",
        jwt_key_file=environ.get("SLURM_JWT_KEY_FILE") or None,
        token=environ.get("SLURM_TOKEN") or None,
        cluster=environ.get("SLURM_CLUSTER") or None,
        timeout=float(environ.get("SLURM_TIMEOUT") or 10),
    )


def client_from_settings() -> SlurmClient:
    """A client configured from Django settings (read now, not at import)."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    url = getattr(settings, "SLURM_REST_URL", None)
    if not url:
        raise ImproperlyConfigured("SLURM_REST_URL is not set: no Slurm cluster is configured")
    return SlurmClient(
        SlurmConfig(
            base_url=url,
            user=getattr(settings, "SLURM_USER", None) or "slurm",
            api_version=getattr(settings, "SLURM_API_VERSION", None) or "v0.0.38",
            jwt_key_file=getattr(settings, "SLURM_JWT_KEY_FILE", None) or None,
            token=getattr(settings, "SLURM_TOKEN", None) or None,
            cluster=getattr(settings, "SLURM_CLUSTER", None) or None,
            timeout=float(getattr(settings, "SLURM_TIMEOUT", None) or 10),
        )
    )
