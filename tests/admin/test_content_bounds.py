"""Template admin: a template too slow or too large for the sample customer is refused on
save, on the part that is, instead of holding the admin."""
import time

import pytest

from tests.admin.test_content import change_url, form_data
from tests.factories import TemplateTranslationFactory

pytestmark = pytest.mark.django_db


def test_a_template_that_takes_too_long_is_refused_on_its_part(admin_client, settings):
    settings.TEMPLATE_RENDER_SECONDS = 0.1
    translation = TemplateTranslationFactory()
    loop = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    started = time.monotonic()

    response = admin_client.post(change_url(translation), form_data(translation, text_body=loop))

    assert time.monotonic() - started < 5
    errors = response.context["adminform"].form.errors
    assert dict(errors) == {"text_body": ["text body: takes too long to render (over 0.1 s)"]}
    translation.refresh_from_db()
    assert translation.text_body != loop


def test_a_template_whose_output_is_too_large_is_refused_on_its_part(admin_client, settings):
    settings.TEMPLATE_OUTPUT_BYTES = 10_000
    translation = TemplateTranslationFactory()

    response = admin_client.post(change_url(translation), form_data(
        translation, html_body="<p>{{ customer.first_name }}</p>{{ '<br>' * 1000000000 }}"))

    errors = response.context["adminform"].form.errors
    assert list(errors) == ["html_body"]
    assert errors["html_body"][0].startswith("HTML body: output too large")


def test_a_template_within_the_limits_is_saved(admin_client, settings):
    settings.TEMPLATE_OUTPUT_BYTES = 10_000
    translation = TemplateTranslationFactory()

    admin_client.post(change_url(translation), form_data(translation, text_body="{{ 'ab' * 10 }}"))

    translation.refresh_from_db()
    assert translation.text_body == "{{ 'ab' * 10 }}"
