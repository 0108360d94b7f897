"""A products CSV imported from the admin's import jobs."""
import pytest

from campaigns.models import ImportJob, Product
from tests.admin.test_imports import media, upload  # noqa: F401 (media is a fixture)

pytestmark = pytest.mark.django_db


def test_a_products_file_is_imported_from_the_admin(
    admin_client, django_capture_on_commit_callbacks, frozen_clock
):
    content = (b"sku,name,price,currency,category,name_sv,attr_colour\n"
               b"KN-200,Knife,899.00,SEK,Kitchen>Knives,Kniv,steel\n"
               b"BAD,Bad,1.00,,,,\n")

    upload(admin_client, django_capture_on_commit_callbacks, content, kind="products")

    job = ImportJob.objects.get()
    assert (job.status, job.rows_done, job.created, job.rejected) == (
        ImportJob.Status.DONE, 2, 1, 1)
    product = Product.objects.get()
    assert (product.category, product.names, product.attributes) == (
        "Kitchen > Knives", {"sv": "Kniv"}, {"colour": "steel"})
