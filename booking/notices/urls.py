from django.urls import path

from booking.notices import views

urlpatterns = [
    path("", views.notice_preferences, name="notice_preferences"),
]
