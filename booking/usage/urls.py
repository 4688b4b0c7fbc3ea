from django.urls import path

from booking.usage import views

app_name = "usage"

urlpatterns = [
    path("bookings/<str:pk>/usage", views.booking_panel_view, name="panel"),
    path(
        "bookings/<str:pk>/check-in",
        views.booking_act_view,
        {"action": "check-in"},
        name="check_in",
    ),
    path(
        "bookings/<str:pk>/check-out",
        views.booking_act_view,
        {"action": "check-out"},
        name="check_out",
    ),
    path("kiosk/<slug:slug>/", views.kiosk_view, name="kiosk"),
    path(
        "kiosk/<slug:slug>/<str:pk>/check-in",
        views.kiosk_act_view,
        {"action": "check-in"},
        name="kiosk_check_in",
    ),
    path(
        "kiosk/<slug:slug>/<str:pk>/check-out",
        views.kiosk_act_view,
        {"action": "check-out"},
        name="kiosk_check_out",
    ),
    path("account/kiosk-pin/", views.kiosk_pin_view, name="kiosk_pin"),
    path("reports/", views.reports_view, name="reports"),
]
