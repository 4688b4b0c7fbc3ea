from django.urls import path

from booking.billing import views

app_name = "billing"

urlpatterns = [
    path("tenants/<slug:slug>/statements/", views.statements_view, name="statements"),
    path("tenants/<slug:slug>/statements/<str:pk>/", views.statement_view, name="statement"),
]
