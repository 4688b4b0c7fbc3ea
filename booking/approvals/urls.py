"""The approvers' queue."""

from django.urls import path

from booking.approvals import views

urlpatterns = [
    path("approvals/", views.approval_queue, name="approval_queue"),
    path("approvals/<str:pk>/approve", views.approval_approve_view, name="approval_approve"),
    path("approvals/<str:pk>/deny", views.approval_deny_view, name="approval_deny"),
]
