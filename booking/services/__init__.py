"""Writes: every change to tenants, quotas, bookings and jobs goes through a function here."""
