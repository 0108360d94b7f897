"""CSV imports from the admin: upload, the job runs (eager Celery), counts, rejects download."""
import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from campaigns.models import AttributeDefinition, Customer, ImportJob

pytestmark = pytest.mark.django_db

CUSTOMERS = (b"external_id,email,first_name,shoe_size\n"
             b"c-1,astrid@example.se,Astrid,38\n"
             b"c-2,not-an-email,Ola,44\n"
             b"c-3,sam@example.com,Sam,\n")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def upload(client, capture, content=CUSTOMERS, *, kind="customers", dry_run=False):
    data = {"kind": kind, "file": SimpleUploadedFile("shop.csv", content, "text/csv")}
    if dry_run:
        data["dry_run"] = "on"
    with capture(execute=True):
        response = client.post(reverse("admin:campaigns_importjob_add"), data)
    return response


def test_an_uploaded_file_is_imported_and_the_job_page_shows_the_outcome(
    admin_client, django_capture_on_commit_callbacks, frozen_clock
):
    response = upload(admin_client, django_capture_on_commit_callbacks)

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("admin:campaigns_importjob_change", args=[job.pk])
    assert (job.status, job.rows_done, job.created, job.updated, job.rejected) == (
        ImportJob.Status.DONE, 3, 2, 0, 1)
    assert job.bytes_done == job.bytes_total == len(CUSTOMERS)
    assert "new attribute keys (stored as text): shoe_size" in job.summary
    assert set(Customer.objects.values_list("external_id", flat=True)) == {"c-1", "c-3"}
    assert AttributeDefinition.objects.filter(key="shoe_size").exists()
    page = admin_client.get(response.url).content.decode()
    assert f'<progress value="{len(CUSTOMERS)}" max="{len(CUSTOMERS)}"' in page
    assert 'http-equiv="refresh"' not in page
    assert reverse("admin:campaigns_importjob_rejects", args=[job.pk]) in page


def test_staff_who_may_view_imports_and_customers_download_the_rejects_and_no_one_else(
    admin_client, client, django_capture_on_commit_callbacks, frozen_clock
):
    upload(admin_client, django_capture_on_commit_callbacks)
    url = reverse("admin:campaigns_importjob_rejects", args=[ImportJob.objects.get().pk])

    download = admin_client.get(url)

    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment")
    lines = b"".join(download.streaming_content).decode().splitlines()
    assert lines[0] == "line,reason,external_id,email,first_name,shoe_size"
    assert lines[1].startswith("3,email: value is not a valid email address")
    assert client.get(url).status_code == 302  # anonymous: to the login page
    User.objects.create_user("shopper", password="pw")
    client.login(username="shopper", password="pw")
    assert client.get(url).status_code == 302  # not staff
    clerk = User.objects.create_user("clerk", password="pw", is_staff=True)
    client.login(username="clerk", password="pw")
    assert client.get(url).status_code == 403  # staff without the view permission
    clerk.user_permissions.add(Permission.objects.get(codename="view_importjob"))
    assert client.get(url).status_code == 403  # the rows are customers' data
    clerk.user_permissions.add(Permission.objects.get(codename="view_customer"))
    assert client.get(url).status_code == 200


def test_a_refused_file_shows_why_and_writes_nothing(
    admin_client, django_capture_on_commit_callbacks, frozen_clock
):
    upload(admin_client, django_capture_on_commit_callbacks, b"c-1,astrid@example.se\n")

    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.FAILED
    assert job.error.startswith("Missing column(s): external_id.")
    assert not Customer.objects.exists() and not job.rejects_file
    page = admin_client.get(reverse("admin:campaigns_importjob_change", args=[job.pk]))
    assert "Missing column(s): external_id." in page.content.decode()


def test_a_dry_run_from_the_admin_writes_nothing_but_reports(
    admin_client, django_capture_on_commit_callbacks, frozen_clock
):
    upload(admin_client, django_capture_on_commit_callbacks, dry_run=True)

    job = ImportJob.objects.get()
    assert (job.status, job.created, job.rejected) == (ImportJob.Status.DONE, 2, 1)
    assert "dry run: nothing was written" in job.summary
    assert not Customer.objects.exists() and not AttributeDefinition.objects.exists()


def test_a_job_still_running_refreshes_its_page(admin_client, frozen_clock, settings):
    job = ImportJob.objects.create(kind="customers", file=SimpleUploadedFile("a.csv", b"x"),
                                   status=ImportJob.Status.RUNNING, bytes_total=200,
                                   bytes_done=50)

    page = admin_client.get(reverse("admin:campaigns_importjob_change", args=[job.pk]))

    assert '<meta http-equiv="refresh" content="3">' in page.content.decode()
    assert '<progress value="50" max="200"' in page.content.decode()


def test_attribute_definitions_are_managed_in_the_admin(admin_client):
    response = admin_client.post(reverse("admin:campaigns_attributedefinition_add"),
                                 {"key": "shoe_size", "label": "Shoe size", "type": "number"})

    assert response.status_code == 302
    assert AttributeDefinition.objects.get().type == "number"
    page = admin_client.get(reverse("admin:campaigns_attributedefinition_change",
                                    args=[AttributeDefinition.objects.get().pk]))
    assert 'name="key"' not in page.content.decode()


def test_a_redelivered_task_does_not_run_a_job_twice(frozen_clock):
    from campaigns.services.import_jobs import import_job_run
    from campaigns.tasks import import_job

    job = ImportJob.objects.create(kind="customers",
                                   file=SimpleUploadedFile("a.csv", CUSTOMERS))
    import_job(job.pk)
    Customer.objects.all().delete()

    assert import_job_run(job_id=job.pk) is None
    assert not Customer.objects.exists()
    job.refresh_from_db()
    assert (job.status, job.created) == (ImportJob.Status.DONE, 2)
