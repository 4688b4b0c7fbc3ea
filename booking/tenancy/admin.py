"""Admin of tenants, quotas and their history; changes go through the quota services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from booking.errors import ParkError
from booking.tenancy.models import Invitation, Membership, Quota, QuotaChange, Tenant
from booking.tenancy.services import quota_delete, quota_set, quotas_scale, tenant_set_weight


class MembershipInline(admin.TabularInline):
    """Read only: a tenant's managers invite, change and remove members on their members page
    (``/tenants/<slug>/members/``), where the rules and the Slurm check apply."""

    model = Membership
    extra = 0
    fields = ["user", "role", "cluster_username", "joined_at"]
    readonly_fields = fields
    verbose_name_plural = _(
        "Members (read only: the tenant's managers invite and manage members on their members page)"
    )

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class QuotaInline(admin.TabularInline):
    model = Quota
    extra = 0


class QuotaChangeInline(admin.TabularInline):
    model = QuotaChange
    extra = 0
    can_delete = False
    fields = [
        "changed_at",
        "changed_by",
        "field",
        "resource_class",
        "period",
        "old_value",
        "new_value",
        "note",
    ]
    readonly_fields = fields
    ordering = ["-changed_at", "-id"]
    verbose_name_plural = _("Quota and weight history")

    def has_add_permission(self, request, obj=None):
        return False


class ScaleQuotasForm(forms.Form):
    percent = forms.DecimalField(
        label=_("Scale by (%)"),
        max_digits=7,
        decimal_places=2,
        min_value=-99.99,
        max_value=1000,
        help_text=_("10 raises every quota by 10 %; -25 lowers it by a quarter."),
    )


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "tier", "home_park", "weight", "slurm_account", "active"]
    list_filter = ["tier", "home_park", "active"]
    search_fields = ["name", "slug", "slurm_account"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline, QuotaInline, QuotaChangeInline]
    actions = ["scale_quotas"]

    @transaction.atomic
    def save_model(self, request, obj, form, change):
        # Weight changes go through the service so the audit history records them.
        new_weight = obj.weight
        if change and "weight" in form.changed_data:
            obj.weight = Tenant.objects.get(pk=obj.pk).weight
        super().save_model(request, obj, form, change)
        if change and "weight" in form.changed_data:
            tenant_set_weight(tenant=obj, weight=new_weight, actor=request.user, note="admin")

    def save_formset(self, request, form, formset, change):
        if formset.model is not Quota:
            return super().save_formset(request, form, formset, change)
        # Quota rows go through the service too: validated, and old → new kept in the history.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for deleted in formset.deleted_forms:
            if deleted.instance.pk:
                quota_delete(quota=deleted.instance, actor=request.user, note="admin")
        for quota_form in formset.forms:
            if quota_form in formset.deleted_forms or not quota_form.has_changed():
                continue
            data = quota_form.cleaned_data
            if not data:
                continue
            instance = quota_form.instance
            if instance.pk:
                original = Quota.objects.get(pk=instance.pk)
                if (original.resource_class, original.period) != (
                    data["resource_class"],
                    data["period"],
                ):
                    quota_delete(quota=original, actor=request.user, note="admin: moved")
            quota_set(
                tenant=form.instance,
                resource_class=data["resource_class"],
                period=data["period"],
                hours=data["hours"],
                actor=request.user,
                note="admin",
            )

    @admin.action(description=_("Scale quotas of the selected tenants by x %%"))
    def scale_quotas(self, request, queryset):
        if "apply" in request.POST:
            form = ScaleQuotasForm(request.POST)
            if form.is_valid():
                try:
                    count = quotas_scale(
                        tenants=queryset, percent=form.cleaned_data["percent"], actor=request.user
                    )
                except ParkError as error:
                    self.message_user(request, error.message, messages.ERROR)
                    return None
                self.message_user(
                    request, _("%(count)d quotas scaled.") % {"count": count}, messages.SUCCESS
                )
                return None
        else:
            form = ScaleQuotasForm()
        return render(
            request,
            "admin/booking/scale_quotas.html",
            {
                **self.admin_site.each_context(request),
                "form": form,
                "tenants": queryset,
                "action_name": "scale_quotas",
                "title": _("Scale quotas"),
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )


@admin.register(QuotaChange)
class QuotaChangeAdmin(admin.ModelAdmin):
    list_display = [
        "changed_at",
        "tenant",
        "field",
        "resource_class",
        "period",
        "old_value",
        "new_value",
        "changed_by",
        "note",
    ]
    list_filter = ["field", "resource_class", "period"]
    search_fields = ["tenant__name", "changed_by__username"]
    date_hierarchy = "changed_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Quota)
class QuotaAdmin(admin.ModelAdmin):
    list_display = ["tenant", "resource_class", "period", "hours"]
    list_filter = ["resource_class", "period"]
    search_fields = ["tenant__name"]

    def save_model(self, request, obj, form, change):
        if change:
            original = Quota.objects.get(pk=obj.pk)
            if (original.resource_class, original.period) != (obj.resource_class, obj.period):
                quota_delete(quota=original, actor=request.user, note="admin: moved")
        saved = quota_set(
            tenant=obj.tenant,
            resource_class=obj.resource_class,
            period=obj.period,
            hours=obj.hours,
            actor=request.user,
            note="admin",
        )
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        quota_delete(quota=obj, actor=request.user, note="admin")


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Read only: managers send and withdraw invitations on their members page."""

    list_display = ["email", "tenant", "role", "invited_by", "created", "expires", "accepted_at"]
    list_filter = ["role", "revoked"]
    search_fields = ["email", "tenant__name"]
    readonly_fields = [
        "tenant",
        "email",
        "role",
        "language",
        "invited_by",
        "created",
        "expires",
        "accepted_at",
        "accepted_by",
        "revoked",
    ]
    exclude = ["nonce"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
