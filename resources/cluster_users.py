"""Is a name a user of the park's Slurm cluster? Asked when a manager sets a member's cluster
user name, so a typo is caught before the first job fails.

Slurm's accounting (slurmdbd, ``GET /slurmdb/vX/users`` through the park's client) is asked
with a short timeout and no retries: a manager waits on the answer. No cluster configured
(``SLURM_REST_URL`` unset) is ``NOT_CONFIGURED``; a cluster that does not answer, or answers
with an error, is ``UNREACHABLE`` — the caller then stores the name with a warning instead of
refusing it (the periodic reconciliation reports what is still wrong).
"""

from __future__ import annotations

import dataclasses
import enum
import logging

from django.core.exceptions import ImproperlyConfigured

from resources.clusters import default_cluster
from resources.slurm import SlurmClient, SlurmError
from resources.slurm.client import SlurmConfig

logger = logging.getLogger(__name__)

LOOKUP_TIMEOUT = 3.0


class UserLookup(enum.Enum):
    KNOWN = "known"
    UNKNOWN = "unknown"
    UNREACHABLE = "unreachable"
    NOT_CONFIGURED = "not_configured"


def _config() -> SlurmConfig | None:
    """The default cluster's configuration with the lookup's short timeouts, or None."""
    try:
        config = default_cluster().slurm_config()
    except ImproperlyConfigured:
        return None
    return dataclasses.replace(
        config, timeout=LOOKUP_TIMEOUT, connect_timeout=LOOKUP_TIMEOUT, retries=0
    )


def cluster_user_lookup(*, name: str, client: SlurmClient | None = None) -> UserLookup:
    """Whether ``name`` is a user in the default cluster's accounting.

    In: the user name; ``client`` only for tests (else one is built from the settings with a
    short timeout). Out: a ``UserLookup``. Never raises for Slurm's sake."""
    own = None
    if client is None:
        config = _config()
        if config is None:
            return UserLookup.NOT_CONFIGURED
        try:
            own = client = SlurmClient(config)
        except (OSError, SlurmError):
            logger.warning("cannot build a Slurm client to look up %s", name, exc_info=True)
            return UserLookup.UNREACHABLE
    try:
        known = client.users()
    except (SlurmError, OSError) as error:
        logger.warning("Slurm did not answer the user lookup of %s: %s", name, error)
        return UserLookup.UNREACHABLE
    finally:
        if own is not None:
            own.close()
    return UserLookup.KNOWN if name in known else UserLookup.UNKNOWN
