"""The registry of Slurm clusters the park submits to: the park's own in Hong Kong and the
Greater Bay Area hub nodes on the Mainland.

Credentials are never stored here: a cluster names the setting or environment variable that
holds its JWT key file (or a token), and the client reads it when it is built. With no row in
the registry, the ``SLURM_*`` settings are the default cluster (named ``SLURM_CLUSTER``,
"park", in Hong Kong), so a plain setup keeps working.
"""

from __future__ import annotations

import os
import threading
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from resources.slurm import SlurmClient, SlurmConfig


class Jurisdiction(models.TextChoices):
    HONG_KONG = "hk", _("Hong Kong")
    MAINLAND = "mainland", _("Mainland")


class ClusterState(models.TextChoices):
    UP = "up", _("Up: takes new jobs")
    DRAINING = "draining", _("Draining: runs its jobs, takes no new ones")
    DOWN = "down", _("Down")


class ClusterUsage(models.TextChoices):
    PRIMARY = "primary", _("Primary: jobs go here first")
    OVERFLOW = "overflow", _("Overflow: when the primary cannot start the job within the wait")
    ON_REQUEST = "on_request", _("On request: only when the tenant names it")


class Cluster(models.Model):
    name = models.SlugField(_("name"), max_length=60, unique=True)
    slurm_name = models.CharField(
        _("Slurm's cluster name"),
        max_length=60,
        blank=True,
        help_text=_("ClusterName in its slurm.conf, if it differs from the name."),
    )
    jurisdiction = models.CharField(_("jurisdiction"), max_length=10, choices=Jurisdiction.choices)
    rest_url = models.CharField(
        _("REST URL"),
        max_length=200,
        blank=True,
        help_text=_("slurmrestd's address; empty: the SLURM_REST_URL setting."),
    )
    api_version = models.CharField(_("API version"), max_length=20, default="v0.0.38")
    rest_user = models.CharField(_("REST user"), max_length=60, blank=True)
    credentials_from = models.CharField(
        _("credentials from"),
        max_length=80,
        blank=True,
        help_text=_(
            "Name of the setting or environment variable holding the JWT key file's path "
            "(or, ending in _TOKEN, a token). Never the secret itself. Empty: the SLURM_* settings."
        ),
    )
    agent_url = models.CharField(_("park agent URL"), max_length=200, blank=True)
    agent_key_from = models.CharField(
        _("park agent key from"),
        max_length=80,
        blank=True,
        help_text=_("Name of the setting or environment variable holding the agent's key file."),
    )
    state = models.CharField(
        _("state"), max_length=10, choices=ClusterState.choices, default=ClusterState.UP
    )
    usage = models.CharField(
        _("usage"), max_length=12, choices=ClusterUsage.choices, default=ClusterUsage.PRIMARY
    )
    overflow_queue_depth = models.PositiveIntegerField(
        _("overflow after this many waiting jobs"),
        default=8,
        help_text=_(
            "For an overflow cluster: it takes a routed job when the primary cluster already has "
            "this many park jobs waiting (queued or pending) in the job's partition."
        ),
    )
    gpu_rate_factor = models.DecimalField(
        _("GPU-hour rate factor"),
        max_digits=6,
        decimal_places=3,
        default=Decimal("1.000"),
        help_text=_("GPU-hours on this cluster are billed at this factor of the park's rate."),
    )
    priority = models.PositiveSmallIntegerField(
        _("routing order"), default=10, help_text=_("Lower first among clusters of one usage.")
    )

    class Meta:
        ordering = ["priority", "name"]
        verbose_name = _("Slurm cluster")
        verbose_name_plural = _("Slurm clusters")
        constraints = [
            models.CheckConstraint(
                condition=Q(gpu_rate_factor__gt=0), name="cluster_rate_factor_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_jurisdiction_display()})"

    def clean(self) -> None:
        for field in ("credentials_from", "agent_key_from"):
            value = getattr(self, field)
            if value and not value.replace("_", "").isalnum():
                raise ValidationError(
                    {field: _("Name a setting or environment variable, not a secret or a path.")}
                )

    @property
    def takes_jobs(self) -> bool:
        return self.state == ClusterState.UP

    def slurm_config(self) -> SlurmConfig:
        """How to reach this cluster, with its credentials read now from where it points."""
        # Only the default cluster falls back to the SLURM_* settings: another cluster without
        # its own URL must never reach the park's controller under its name.
        url = self.rest_url or (_setting("SLURM_REST_URL") if self.is_default else "")
        if not url:
            raise ImproperlyConfigured(f"cluster {self.name}: no REST URL configured")
        key_file, token = None, None
        if self.credentials_from:
            secret = _setting(self.credentials_from)
            if self.credentials_from.endswith("_TOKEN"):
                token = secret or None
            else:
                key_file = secret or None
            if not secret:
                raise ImproperlyConfigured(
                    f"cluster {self.name}: {self.credentials_from} is not set"
                )
        else:
            key_file = _setting("SLURM_JWT_KEY_FILE") or None
            token = _setting("SLURM_TOKEN") or None
        return SlurmConfig(
            base_url=url,
            user=self.rest_user or _setting("SLURM_USER") or "slurm",
            api_version=self.api_version or _setting("SLURM_API_VERSION") or "v0.0.38",
            jwt_key_file=key_file,
            token=token,
            cluster=self.slurm_cluster_name,
            timeout=float(_setting("SLURM_TIMEOUT") or 10),
        )

    def agent_settings(self) -> tuple[str, str] | None:
        """The park agent's URL and key file beside this cluster's controller, if any."""
        if self.agent_url:
            key = _setting(self.agent_key_from) if self.agent_key_from else None
            return (self.agent_url, key) if key else None
        if self.is_default:
            url, key = _setting("SLURM_AGENT_URL"), _setting("SLURM_AGENT_KEY_FILE")
            return (url, key) if url and key else None
        return None

    @property
    def slurm_cluster_name(self) -> str:
        return self.slurm_name or self.name

    @property
    def is_default(self) -> bool:
        return self.name == default_cluster_name()


def _setting(name: str) -> str | None:
    """A setting, else an environment variable of that name."""
    value = getattr(settings, name, None)
    if value in (None, ""):
        value = os.environ.get(name)
    return value if value not in ("",) else None


def default_cluster_name() -> str:
    return getattr(settings, "SLURM_CLUSTER", "") or "park"


def default_cluster() -> Cluster:
    """The park's own cluster: the ``SLURM_*`` settings (created on first use)."""
    cluster, _created = Cluster.objects.get_or_create(
        name=default_cluster_name(),
        defaults={"jurisdiction": Jurisdiction.HONG_KONG, "usage": ClusterUsage.PRIMARY},
    )
    return cluster


def cluster_named(name: str) -> Cluster | None:
    if name == default_cluster_name():
        return default_cluster()
    return Cluster.objects.filter(name=name).first()


def clusters() -> list[Cluster]:
    """Every registered cluster, the default one included (one query once it exists)."""
    rows = list(Cluster.objects.all())
    if not any(c.name == default_cluster_name() for c in rows):
        default_cluster()
        rows = list(Cluster.objects.all())
    return rows


_clients: dict[str, tuple[SlurmConfig, SlurmClient]] = {}
_clients_lock = threading.Lock()


def client_for(cluster: Cluster) -> SlurmClient:
    """The process's client for ``cluster`` (rebuilt when its configuration changes).

    Raises ``ImproperlyConfigured`` when the cluster cannot be reached from this server's
    configuration (no URL, or its credentials' setting unset)."""
    config = cluster.slurm_config()
    with _clients_lock:
        known = _clients.get(cluster.name)
        if known is None or known[0] != config:
            _clients[cluster.name] = (config, SlurmClient(config))
        return _clients[cluster.name][1]


def configured_client_for(cluster: Cluster) -> SlurmClient | None:
    """The client, or None when the cluster is not configured on this server."""
    try:
        return client_for(cluster)
    except ImproperlyConfigured:
        return None
