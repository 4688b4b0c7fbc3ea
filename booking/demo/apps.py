from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "booking.demo"
    label = "park_demo"
    verbose_name = "Demo park"
