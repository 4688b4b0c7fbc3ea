"""Kiosk PINs: a member confirms a check-in at the instrument's kiosk with a PIN of their own."""

from __future__ import annotations

from django.contrib.auth.hashers import check_password, make_password
from django.utils.translation import gettext as _

from booking.errors import Forbidden, ParkError
from booking.usage.models import KioskPin

PIN_LENGTHS = range(4, 9)
PIN_MAX_FAILURES = 5


def kiosk_pin_set(*, user, pin: str) -> KioskPin:
    """Set the user's kiosk PIN (4–8 digits); only its hash is stored."""
    pin = (pin or "").strip()
    if not pin.isdigit() or len(pin) not in PIN_LENGTHS:
        raise ParkError("pin_invalid", _("Use 4 to 8 digits."), field="pin")
    row, _created = KioskPin.objects.update_or_create(
        user=user, defaults={"pin_hash": make_password(pin), "failed_attempts": 0}
    )
    return row


def kiosk_pin_verify(*, user, pin: str) -> None:
    """Check ``pin`` against the user's PIN. Five wrong tries lock the PIN until it is set
    again. Raises ``pin_not_set``, ``pin_locked`` or ``pin_wrong`` (403)."""
    row = KioskPin.objects.filter(user=user).first()
    if row is None:
        raise Forbidden("pin_not_set", _("Set a kiosk PIN first (My account)."), field="pin")
    if row.failed_attempts >= PIN_MAX_FAILURES:
        raise Forbidden("pin_locked", _("Locked after too many tries; set a new PIN."), field="pin")
    if not check_password((pin or "").strip(), row.pin_hash):
        KioskPin.objects.filter(pk=row.pk).update(failed_attempts=row.failed_attempts + 1)
        raise Forbidden("pin_wrong", _("Wrong PIN."), field="pin")
    if row.failed_attempts:
        KioskPin.objects.filter(pk=row.pk).update(failed_attempts=0)
