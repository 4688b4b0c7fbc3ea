"""The researcher REST API: one router per area, mounted on the one NinjaAPI in config/api.py."""
