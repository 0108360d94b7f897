"""Template admin: broken Jinja is refused on save, saving bumps the version, preview renders."""
import pytest
from django.urls import reverse

from campaigns.models import TemplateTranslation
from tests.factories import TemplateTranslationFactory

pytestmark = pytest.mark.django_db


def change_url(translation) -> str:
    return reverse("admin:campaigns_templatetranslation_change", args=[translation.pk])


def form_data(translation, **changes) -> dict:
    data = {
        "template": translation.template_id,
        "locale": translation.locale,
        "subject": translation.subject,
        "html_body": translation.html_body,
        "text_body": translation.text_body,
    }
    return {**data, **changes}


def test_a_translation_with_broken_jinja_is_refused_with_a_readable_error(admin_client):
    translation = TemplateTranslationFactory()

    response = admin_client.post(
        change_url(translation), form_data(translation, html_body="<p>Hi {{ customer.first_name ")
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["html_body"]
    assert errors["html_body"][0].startswith("HTML body, line 1:")
    translation.refresh_from_db()
    assert translation.html_body == "<p>Hello {{ customer.first_name }}</p>"


def test_an_unknown_variable_is_refused_on_the_part_that_uses_it(admin_client):
    translation = TemplateTranslationFactory()

    response = admin_client.post(
        change_url(translation), form_data(translation, subject="Hi {{ customer.nickname }}")
    )

    errors = response.context["adminform"].form.errors
    assert list(errors) == ["subject"]
    assert "nickname" in errors["subject"][0]


def test_the_inline_refuses_broken_jinja_on_the_template_page(admin_client):
    translation = TemplateTranslationFactory()
    template = translation.template
    prefix = "translations"
    data = {
        "name": template.name, "purpose": template.purpose, "topic": template.topic,
        "default_locale": template.default_locale,
        f"{prefix}-TOTAL_FORMS": 1, f"{prefix}-INITIAL_FORMS": 1,
        f"{prefix}-0-id": translation.pk, f"{prefix}-0-template": template.pk,
        **{f"{prefix}-0-{k}": v for k, v in form_data(
            translation, text_body="Hi {{ customer.first_name ").items() if k != "template"},
    }

    response = admin_client.post(
        reverse("admin:campaigns_messagetemplate_change", args=[template.pk]), data
    )

    assert response.status_code == 200
    assert "text body, line 1:" in response.content.decode()


def test_saving_a_changed_translation_bumps_its_version(admin_client):
    translation = TemplateTranslationFactory()

    response = admin_client.post(
        change_url(translation), form_data(translation, subject="Hej {{ customer.first_name }}!")
    )

    assert response.status_code == 302
    translation.refresh_from_db()
    assert (translation.subject, translation.version) == ("Hej {{ customer.first_name }}!", 2)


def test_saving_an_unchanged_translation_keeps_its_version(admin_client):
    translation = TemplateTranslationFactory()

    admin_client.post(change_url(translation), form_data(translation))

    translation.refresh_from_db()
    assert translation.version == 1


def test_the_preview_shows_subject_html_in_a_sandboxed_iframe_and_text(admin_client):
    translation = TemplateTranslationFactory(
        subject="Welcome, {{ customer.first_name }}!",
        html_body='<p class="x">Hi {{ customer.first_name }} & co</p>',
        text_body="Hi {{ customer.first_name }}",
    )

    page = admin_client.get(change_url(translation)).content.decode()

    assert "Welcome, Astrid!" in page
    # The rendered document sits escaped inside srcdoc, so it cannot break out of the page;
    # the legal footer follows it, as in the email.
    assert 'sandbox="" srcdoc="&lt;p class=&quot;x&quot;&gt;Hi Astrid &amp; co&lt;/p&gt;&lt;div' in page
    assert "Hi Astrid\n\n--\n" in page


def test_adding_a_translation_through_the_template_page_stores_it_at_version_1(admin_client):
    translation = TemplateTranslationFactory(locale="en")
    template = translation.template
    prefix = "translations"
    data = {
        "name": template.name, "purpose": template.purpose, "topic": template.topic,
        "default_locale": "en",
        f"{prefix}-TOTAL_FORMS": 2, f"{prefix}-INITIAL_FORMS": 1,
        f"{prefix}-0-id": translation.pk, f"{prefix}-0-template": template.pk,
        **{f"{prefix}-0-{k}": v for k, v in form_data(translation).items() if k != "template"},
        f"{prefix}-1-template": template.pk, f"{prefix}-1-locale": "SV",
        f"{prefix}-1-subject": "Hej {{ customer.first_name or 'där' }}",
        f"{prefix}-1-html_body": "<p>Hej</p>", f"{prefix}-1-text_body": "Hej",
    }

    response = admin_client.post(
        reverse("admin:campaigns_messagetemplate_change", args=[template.pk]), data
    )

    assert response.status_code == 302
    added = TemplateTranslation.objects.get(template=template, locale="sv")
    assert added.version == 1
