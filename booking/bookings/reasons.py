"""A booking's reason (why it was moved, refused, waitlisted or promoted) in the reader's language.

A booking stores a ``reason_code`` with a ``reason_text`` in the site's default language. The
app that sets a code registers how to render it again in any language (rounds does, for the
planner's codes, in ``RoundsConfig.ready``); an unregistered code shows the stored text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

ReasonRenderer = Callable[[object], str]

_renderers: dict[str, ReasonRenderer] = {}


def register_reason_renderer(codes: Iterable[str], renderer: ReasonRenderer) -> None:
    """``renderer(booking)`` renders the reason of bookings whose ``reason_code`` is in ``codes``."""
    for code in codes:
        _renderers[code] = renderer


def reason_for(booking) -> str:
    """A booking's reason in the active language (for "my bookings", details and e-mails).

    Falls back to the stored ``reason_text`` (the site's default language) for codes no app
    registered."""
    renderer = _renderers.get(booking.reason_code) if booking.reason_code else None
    if renderer is None:
        return booking.reason_text
    return renderer(booking)
