"""Each user's reminder preferences, the notices found due (one row per user, kind, subject and
threshold: the database makes a notice once) and the daily digests sent."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

# The booking-start lead time a user may choose, in minutes (5 minutes to a day).
LEAD_MINUTES_MIN = 5
LEAD_MINUTES_MAX = 24 * 60
LEAD_MINUTES_DEFAULT = 60
DIGEST_HOUR_DEFAULT = 8


class NoticeKind(models.TextChoices):
    BOOKING_START = "booking_start", _("A booking is about to start")
    TRAINING_EXPIRY = "training_expiry", _("A training is about to expire")
    QUOTA = "quota", _("The tenant's quota is running out")
    ROUND_CUTOFF = "round_cutoff", _("An allocation round's cut-off is near")
    APPROVAL_DUE = "approval_due", _("A request waiting for my approval is about to lapse")


class Delivery(models.TextChoices):
    IMMEDIATE = "immediate", _("One e-mail for each notice, when it is due")
    DIGEST = "digest", _("One e-mail a day listing the day's notices")


class NoticePreference(models.Model):
    """What a user wants to be reminded of and how. A user without a row gets the defaults:
    every kind, one e-mail each, 60 minutes before a booking starts."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="notice_preference",
    )
    booking_start = models.BooleanField(_("before my bookings start"), default=True)
    lead_minutes = models.PositiveIntegerField(
        _("minutes before a booking starts"), default=LEAD_MINUTES_DEFAULT
    )
    training_expiry = models.BooleanField(_("trainings expiring in 30 and 7 days"), default=True)
    quota = models.BooleanField(_("tenant quota used to 75% and 100%"), default=True)
    round_cutoff = models.BooleanField(_("24 hours before a round's cut-off"), default=True)
    approval_due = models.BooleanField(
        _("requests waiting for my approval, a day before they lapse"), default=True
    )
    delivery = models.CharField(
        _("delivery"), max_length=10, choices=Delivery.choices, default=Delivery.IMMEDIATE
    )
    digest_hour = models.PositiveSmallIntegerField(
        _("hour of the daily digest"), default=DIGEST_HOUR_DEFAULT
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("reminder preference")
        verbose_name_plural = _("reminder preferences")
        constraints = [
            models.CheckConstraint(
                condition=Q(lead_minutes__gte=LEAD_MINUTES_MIN)
                & Q(lead_minutes__lte=LEAD_MINUTES_MAX),
                name="notice_preference_lead_in_range",
            ),
            models.CheckConstraint(
                condition=Q(digest_hour__lte=23), name="notice_preference_digest_hour_of_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.get_delivery_display()}"

    def wants(self, kind: str) -> bool:
        return bool(getattr(self, kind))


class NoticeStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SENDING = "sending", _("Being sent")
    SENT = "sent", _("Sent")
    DROPPED = "dropped", _("No longer relevant")
    FAILED = "failed", _("Could not be sent")


class Notice(models.Model):
    """One reminder to one user about one subject at one threshold, made once: the unique
    constraint turns a second tick, a retried task or a second worker into a no-op.

    ``subject_id`` is the booking, training record, quota or round the notice is about (its
    kind says which). ``threshold``: ``lead`` for a booking start, ``30d`` / ``7d`` for a
    training, ``75%`` / ``100%`` followed by ``@`` and the period's first day for a quota (once
    per period), ``24h`` for a round. ``params`` holds the figures the e-mail names.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notices"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=NoticeKind.choices)
    subject_id = models.BigIntegerField(_("subject"))
    threshold = models.CharField(_("threshold"), max_length=24)
    tenant = models.ForeignKey(
        "tenancy.Tenant", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    params = models.JSONField(_("figures"), default=dict)
    delivery = models.CharField(_("delivery"), max_length=10, choices=Delivery.choices)
    status = models.CharField(
        _("status"), max_length=8, choices=NoticeStatus.choices, default=NoticeStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # The sender that claimed the row (a random token per pass): only it marks the row sent.
    claim = models.CharField(max_length=32, blank=True, editable=False)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("found due at"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind", "subject_id", "threshold"],
                name="notice_once_per_user_subject_threshold",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "delivery", "created_at"], name="notice_send_queue"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}:{self.subject_id} {self.threshold} ({self.status})"


class NoticeDigest(models.Model):
    """One daily digest of one user: the unique day makes it one e-mail a day at most."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notice_digests"
    )
    day = models.DateField(_("day"))
    claim = models.CharField(max_length=32, editable=False)
    notices = models.PositiveIntegerField(_("notices"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-day"]
        verbose_name = _("daily digest")
        verbose_name_plural = _("daily digests")
        constraints = [
            models.UniqueConstraint(fields=["user", "day"], name="notice_digest_once_a_day"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.day}"
