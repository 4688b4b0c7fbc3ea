"""Operators' billing admin: projects, rate cards (add a version; never change one), cluster
factors, and a month's statements (close, refresh drafts, CSV export for finance, adjustments
with who and why: on a final statement the correction goes on the next open month)."""

from django import forms
from django.contrib import admin, messages
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from booking.billing import selectors, services
from booking.billing.models import ClusterFactor, Project, RateCard, Statement, StatementLine
from booking.errors import ParkError


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "tenant",
        "principal_investigator",
        "funding_code",
        "budget",
        "is_default",
    ]
    list_filter = ["is_default", "active"]
    search_fields = ["name", "tenant__name", "funding_code", "principal_investigator"]
    list_select_related = ["tenant"]


class AdjustmentForm(forms.Form):
    amount = forms.DecimalField(
        max_digits=14, decimal_places=2, help_text="HKD; negative: a credit"
    )
    project = forms.ModelChoiceField(queryset=Project.objects.none(), required=False)
    reason = forms.CharField(max_length=300)

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = Project.objects.filter(tenant=tenant, active=True)


class RateCardForm(forms.ModelForm):
    class Meta:
        model = RateCard
        fields = [
            "resource_class",
            "resource",
            "tier",
            "unit",
            "peak_price",
            "off_peak_price",
            "minimum_charge",
            "no_show_per_hour",
            "consumable_name",
            "consumable_price",
            "valid_from",
            "note",
        ]

    def clean(self):
        data = super().clean()
        if data.get("valid_from"):
            try:
                services.rate_card_check_date(data["valid_from"])
            except ParkError as exc:
                self.add_error("valid_from", exc.message)
        return data


@admin.register(RateCard)
class RateCardAdmin(admin.ModelAdmin):
    """A version is added, never changed: an existing card opens read-only; a change is a new
    card with a later "valid from" (Save as new is off: the form of a new card starts empty)."""

    list_display = [
        "__str__",
        "unit",
        "peak_price",
        "off_peak_price",
        "minimum_charge",
        "no_show_per_hour",
        "valid_from",
        "created_by",
    ]
    list_filter = ["tier", "resource_class", "unit"]
    autocomplete_fields = ["resource"]
    form = RateCardForm

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        fields = {
            f.name: getattr(obj, f.name)
            for f in RateCard._meta.concrete_fields
            if f.name not in {"id", "created_by", "created_at"}
        }
        fields["resource"] = obj.resource
        fields.pop("resource_id", None)
        created = services.rate_card_publish(by=request.user, **fields)
        obj.pk = created.pk
        obj._state.adding = False


@admin.register(ClusterFactor)
class ClusterFactorAdmin(admin.ModelAdmin):
    list_display = ["cluster", "factor"]


class StatementLineInline(admin.TabularInline):
    model = StatementLine
    fk_name = "statement"
    extra = 0
    can_delete = False
    fields = [
        "project",
        "kind",
        "description",
        "quantity",
        "unit_price",
        "amount",
        "reason",
        "created_by",
        "corrects",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Statement)
class StatementAdmin(admin.ModelAdmin):
    list_display = ["tenant", "month", "status", "total", "refreshed_at", "closed_at", "closed_by"]
    list_filter = ["status", "month"]
    search_fields = ["tenant__name", "tenant__slug"]
    list_select_related = ["tenant", "closed_by"]
    date_hierarchy = "month"
    readonly_fields = [
        "tenant",
        "month",
        "status",
        "total",
        "rmb_rate",
        "refreshed_at",
        "closed_at",
        "closed_by",
        "adjust",
    ]
    inlines = [StatementLineInline]
    actions = ["close_statements", "refresh_drafts", "export_csv"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Adjustment")
    def adjust(self, obj):
        url = reverse("admin:billing_statement_adjust", args=[obj.pk])
        return format_html('<a href="{}">Add an adjustment (who and why)</a>', url)

    def get_urls(self):
        view = self.admin_site.admin_view(self.adjust_view)
        return [
            path("<int:pk>/adjust/", view, name="billing_statement_adjust"),
            *super().get_urls(),
        ]

    def adjust_view(self, request, pk: int):
        """Add an adjustment line (amount, project, reason; the operator is recorded)."""
        statement = Statement.objects.select_related("tenant").filter(pk=pk).first()
        if statement is None or not self.has_view_permission(request, statement):
            raise Http404
        form = AdjustmentForm(request.POST or None, tenant=statement.tenant)
        if request.method == "POST" and form.is_valid():
            try:
                line = services.adjustment_add(
                    statement=statement,
                    amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                    project=form.cleaned_data["project"],
                    by=request.user,
                )
            except ParkError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                self.message_user(
                    request, f"Adjustment of HKD {line.amount} added to {line.statement}."
                )
                return HttpResponseRedirect(
                    reverse("admin:billing_statement_change", args=[line.statement_id])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Adjust {statement}",
            "statement": statement,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/billing/adjust.html", context)

    @admin.action(description="Close the selected statements (final, never changed)")
    def close_statements(self, request, queryset):
        closed = 0
        for statement in queryset.select_related("tenant").filter(status="draft"):
            try:
                services.statement_close(statement=statement, by=request.user)
            except ParkError as exc:
                self.message_user(request, f"{statement}: {exc.message}", messages.ERROR)
                continue
            closed += 1
        self.message_user(request, f"{closed} statements closed.", messages.SUCCESS)

    @admin.action(description="Refresh the selected drafts from usage")
    def refresh_drafts(self, request, queryset):
        done = 0
        for statement in queryset.select_related("tenant").filter(status="draft"):
            services.statement_refresh(statement=statement)
            done += 1
        self.message_user(request, f"{done} drafts refreshed.", messages.SUCCESS)

    @admin.action(description="Export the selected statements as CSV (finance)")
    def export_csv(self, request, queryset):
        body = selectors.statements_csv(
            queryset.select_related("tenant").order_by("month", "tenant")
        )
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="statements.csv"'
        return response
