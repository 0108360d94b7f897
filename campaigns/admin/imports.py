"""Admin for CSV imports: upload a file, watch its progress, read the outcome, get rejects."""
from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from campaigns.models import ImportJob
from campaigns.tasks import import_job

from .personal_data import PersonalDataAdminMixin

DETAIL_FIELDS = ["kind", "file_name", "dry_run", "status", "progress", "rows_done", "created",
                 "updated", "unchanged", "rejected", "summary", "error", "rejects",
                 "created_at", "started_at", "finished_at"]


class ImportJobForm(forms.ModelForm):
    class Meta:
        model = ImportJob
        fields = ["kind", "file", "dry_run"]
        help_texts = {
            "file": _("CSV in UTF-8 with a header line. Customers: external_id, email, "
                      "first_name, last_name, locale, time_zone, country, signed_up_at, "
                      "marketing_consent, marketing_consent_at, referral_code (counts "
                      "for new customers only), and any custom attributes. "
                      "Orders: external_id, customer_external_id, amount, currency, "
                      "placed_at, optional status. Products: sku, name, url, image_url, "
                      "price, currency, category, brand, in_stock, reorder_days, "
                      "name_<language> and attr_<key> columns."),
        }

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".csv", ".txt")):
            raise forms.ValidationError(_("Upload a .csv file."))
        return upload


@admin.register(ImportJob)
class ImportJobAdmin(PersonalDataAdminMixin, admin.ModelAdmin):
    """Adding a job queues the import; the job page follows it until it is done."""

    form = ImportJobForm
    change_form_template = "admin/campaigns/importjob/change_form.html"
    list_display = ["__str__", "kind", "dry_run", "status", "rows_done", "created", "updated",
                    "unchanged", "rejected", "created_at"]
    list_filter = ["kind", "status", "dry_run"]

    def get_fields(self, request, obj=None):
        return ["kind", "file", "dry_run"] if obj is None else DETAIL_FIELDS

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else DETAIL_FIELDS

    def has_change_permission(self, request, obj=None):
        return False  # A job is a record of what happened; it is viewed, not edited.

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        obj.bytes_total = obj.file.size
        obj.save()
        import_job.delay_on_commit(obj.pk)

    def response_add(self, request, obj, post_url_continue=None):
        # Straight to the job's page, which follows the progress.
        return HttpResponseRedirect(reverse("admin:campaigns_importjob_change", args=[obj.pk]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self.get_object(request, object_id)
        running = job is not None and job.status in (ImportJob.Status.PENDING,
                                                     ImportJob.Status.RUNNING)
        return super().change_view(request, object_id, form_url,
                                   {**(extra_context or {}), "import_running": running})

    def get_urls(self):
        return [path("<path:object_id>/rejects/", self.admin_site.admin_view(self.rejects_view),
                     name="campaigns_importjob_rejects"), *super().get_urls()]

    def rejects_view(self, request, object_id):
        """The rejects file, for staff who may view import jobs; never a public URL."""
        job = self.get_object(request, object_id)
        if job is None or not job.rejects_file:
            raise Http404(_("This import has no rejects file."))
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        return FileResponse(job.rejects_file.open("rb"), as_attachment=True,
                            filename=f"import-{job.pk}-rejects.csv", content_type="text/csv")

    @admin.display(description=_("file"))
    def file_name(self, obj):
        return obj.file.name.rsplit("/", 1)[-1]

    @admin.display(description=_("progress"))
    def progress(self, obj):
        total = max(obj.bytes_total, 1)
        done = total if obj.status == ImportJob.Status.DONE else min(obj.bytes_done, total)
        return format_html('<progress value="{}" max="{}" style="width:20em"></progress> {}%',
                           done, total, done * 100 // total)

    @admin.display(description=_("rejected rows"))
    def rejects(self, obj):
        if not obj.rejects_file:
            return "—"
        url = reverse("admin:campaigns_importjob_rejects", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _(
            "Download the rejected rows with the reason for each (CSV)"))
