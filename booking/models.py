"""The one table the shared ``booking`` app owns itself: leases (locks that expire)."""

from __future__ import annotations

from django.db import models


class Lease(models.Model):
    """A named lock with a holder and an expiry, so a worker that dies cannot hold it forever.

    ``again`` is set by someone who wanted the lock while it was held: the holder then runs its
    work once more before letting go (see ``booking.leases``).
    """

    name = models.CharField(max_length=120, unique=True)
    holder = models.CharField(max_length=64)
    expires_at = models.DateTimeField()
    again = models.BooleanField(default=False)

    class Meta:
        verbose_name = "lease"

    def __str__(self) -> str:
        return f"{self.name} ({self.holder} until {self.expires_at:%H:%M:%S})"
