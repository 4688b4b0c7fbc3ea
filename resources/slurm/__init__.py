"""Slurm REST (slurmrestd) client: typed records in and out, one error type.

Importing this package does not import Django; ``client_from_settings`` reads settings when called.
"""

from .client import SlurmClient, SlurmConfig, client_from_settings, config_from_env
from .errors import SlurmError
from .tokens import TokenSource, mint_token
from .types import (
    AccountInfo,
    AssociationInfo,
    JobInfo,
    JobSpec,
    JobState,
    NodeInfo,
    PartitionInfo,
    PingInfo,
    ReservationInfo,
)

__all__ = [
    "AccountInfo",
    "AssociationInfo",
    "JobInfo",
    "JobSpec",
    "JobState",
    "NodeInfo",
    "PartitionInfo",
    "PingInfo",
    "ReservationInfo",
    "SlurmClient",
    "SlurmConfig",
    "SlurmError",
    "TokenSource",
    "client_from_settings",
    "config_from_env",
    "mint_token",
]
