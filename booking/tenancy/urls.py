from django.urls import path

from booking.tenancy import views

app_name = "tenancy"

urlpatterns = [
    path("tenants/<slug:slug>/members/", views.members_view, name="members"),
    path("tenants/<slug:slug>/members/invite", views.invite_view, name="invite"),
    path("tenants/<slug:slug>/members/<str:pk>/role", views.role_view, name="role"),
    path(
        "tenants/<slug:slug>/members/<str:pk>/cluster-username",
        views.cluster_username_view,
        name="cluster_username",
    ),
    path("tenants/<slug:slug>/members/<str:pk>/remove", views.remove_view, name="remove"),
    path("tenants/<slug:slug>/invitations/<str:pk>/revoke", views.revoke_view, name="revoke"),
    path("invitations/<str:token>/", views.invitation_view, name="invitation"),
]
