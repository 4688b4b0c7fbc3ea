"""Operator pages for allocation rounds (staff only), included under ``rounds/``."""

from django.urls import path  # noqa: F401

app_name = "rounds"

urlpatterns: list = []
