"""The template editor: live preview of an unsaved draft, problems per part and line,
duplicate, the layout admin, and who may use them."""
import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from campaigns.models import EmailLayout, MessageTemplate, TemplateTranslation
from tests.factories import CustomerFactory, OrderFactory, TemplateTranslationFactory

pytestmark = pytest.mark.django_db

PREVIEW = "admin:campaigns_messagetemplate_preview"


def draft(**changes) -> dict:
    return {"subject": "Hi {{ customer.first_name }}", "purpose": "marketing", "locale": "sv",
            "html_body": "<h1>Hej {{ customer.first_name }}</h1>\n<p>Välkommen</p>",
            "text_body": "Hej {{ customer.first_name }}", "layout": "", "customer": "",
            **changes}


def preview(client, **changes):
    return client.post(reverse(PREVIEW), draft(**changes))


def staff(*codenames: str, email: str = "") -> Client:
    user = User.objects.create_user(f"staff-{User.objects.count()}", password="pw",
                                    is_staff=True, email=email)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def test_the_preview_renders_the_unsaved_draft_in_the_layout_with_the_footer(admin_client):
    layout = EmailLayout.objects.create(name="Shop", is_default=True, brand_color="#123456")
    translation = TemplateTranslationFactory(locale="sv")
    before = (TemplateTranslation.objects.count(), MessageTemplate.objects.count())

    response = preview(admin_client)

    assert response.status_code == 200
    body = response.json()
    assert body["subject"] == "Hi Astrid"
    assert body["layout"] == "Shop" and "sample customer" in body["for"]
    assert '<h1 style="margin: 0 0 24px 0;' in body["html"] and ">Hej Astrid</h1>" in body["html"]
    assert "Avregistrera dig" in body["html"]  # the legal footer, in the draft's language
    assert body["text"].startswith("Hej Astrid\n\n--\n")
    assert body["problems"] == {"subject": [], "html": [], "text": []}
    # Nothing was saved.
    assert (TemplateTranslation.objects.count(), MessageTemplate.objects.count()) == before
    translation.refresh_from_db()
    assert translation.version == 1 and "Välkommen" not in translation.html_body
    layout.refresh_from_db()
    assert layout.version == 1


def test_no_layout_previews_the_html_as_written(admin_client):
    EmailLayout.objects.create(name="Shop", is_default=True)

    body = preview(admin_client, raw_html="on", html_body="<p>Raw {{ customer.first_name }}</p>",
                   purpose="transactional").json()

    assert body["html"] == "<p>Raw Astrid</p>"
    assert body["layout"] == "no layout"


def test_a_whole_email_written_into_a_layout_is_a_problem(admin_client):
    EmailLayout.objects.create(name="Shop", is_default=True)
    whole = "<html><body><p>Hi</p></body></html>"

    in_layout = preview(admin_client, html_body=whole).json()["problems"]["html"]
    raw = preview(admin_client, html_body=whole, raw_html="on").json()["problems"]["html"]

    assert len(in_layout) == 1 and "no layout" in in_layout[0]
    assert raw == []


def test_a_syntax_error_is_shown_on_its_part_with_its_line(admin_client):
    body = preview(admin_client, html_body="<p>one</p>\n<p>two</p>\n<p>{{ customer.first_name </p>",
                   text_body="fine").json()

    assert body["problems"]["subject"] == [] and body["problems"]["text"] == []
    (problem,) = body["problems"]["html"]
    assert problem.startswith("Line 3: ")
    assert body["html"] == ""  # nothing half-rendered


def test_an_unknown_variable_is_named_with_a_suggestion(admin_client):
    body = preview(admin_client, subject="Hi {{ custmer.first_name }}",
                   html_body="<p>\n{{ customer.frist_name }} {{ customer.attributes.size }}</p>").json()

    assert body["problems"]["subject"] == [
        "Line 1: there is no variable “custmer”. Did you mean “customer”?"]
    assert body["problems"]["html"] == [
        "Line 2: there is no variable “customer.frist_name”. Did you mean “customer.first_name”?"]


def test_a_marketing_email_without_a_text_part_is_a_problem_a_transactional_one_is_not(admin_client):
    marketing = preview(admin_client, text_body="  ").json()["problems"]["text"]
    transactional = preview(admin_client, text_body="", purpose="transactional").json()

    assert len(marketing) == 1 and "text part" in marketing[0]
    assert transactional["problems"]["text"] == []
    assert "Avregistrera" not in transactional["html"]  # no footer on a transactional email


def test_an_unsubscribe_link_in_a_transactional_email_is_a_problem(admin_client):
    body = preview(admin_client, purpose="transactional",
                   html_body='<a href="{{ unsubscribe_url }}">Stop</a>').json()

    assert "unsubscribe" in body["problems"]["html"][0]


def test_the_preview_renders_for_a_real_customer(admin_client):
    customer = CustomerFactory(first_name="Kari", locale="nb")
    OrderFactory(customer=customer, external_id="o-777")

    body = preview(admin_client, customer=customer.pk,
                   html_body="<p>{{ customer.first_name }} {{ order.external_id }}</p>").json()

    assert "<p>Kari o-777</p>" in body["html"]
    assert customer.email in body["for"]


@pytest.mark.parametrize("changes, field", [
    ({"customer": "abc"}, "customer"),
    ({"customer": "999999"}, "customer"),
    ({"purpose": "evil"}, "purpose"),
    ({"layout": "x"}, "layout"),
    ({"subject": "x" * 301}, "subject"),
])
def test_bad_input_gets_an_error_naming_the_field(admin_client, changes, field):
    response = preview(admin_client, **changes)

    assert response.status_code == 400
    assert list(response.json()["field_errors"]) == [field]


def test_the_preview_needs_a_post_and_the_change_permission():
    assert staff("change_messagetemplate").get(reverse(PREVIEW)).status_code == 405
    assert preview(staff("view_messagetemplate")).status_code == 403
    assert staff("view_messagetemplate").post(
        reverse("admin:campaigns_messagetemplate_test_send"), draft(to="x@example.com")
    ).status_code == 403
    assert preview(staff("change_messagetemplate")).status_code == 200


def test_previewing_for_a_real_customer_needs_the_right_to_see_customers():
    customer = CustomerFactory()

    assert preview(staff("change_messagetemplate"), customer=customer.pk).status_code == 403
    assert preview(staff("change_messagetemplate", "view_customer"),
                   customer=customer.pk).status_code == 200
    assert staff("change_messagetemplate").get(
        reverse("admin:campaigns_messagetemplate_customers"), {"q": "an"}).status_code == 403


def test_the_customer_search_finds_by_name_or_email(admin_client):
    astrid = CustomerFactory(first_name="Astrid", last_name="Berg", email="astrid@example.se")
    CustomerFactory(first_name="Ola", last_name="Nord", email="ola@example.no")

    found = admin_client.get(reverse("admin:campaigns_messagetemplate_customers"),
                             {"q": "astrid berg"}).json()["customers"]

    assert [c["id"] for c in found] == [astrid.pk]
    assert found[0]["label"] == "Astrid Berg <astrid@example.se>"


def test_the_template_page_lists_the_variables_and_has_the_editor(admin_client):
    translation = TemplateTranslationFactory()

    page = admin_client.get(reverse("admin:campaigns_messagetemplate_change",
                                    args=[translation.template_id])).content.decode()

    assert 'data-insert="{{ order.external_id }}"' in page
    assert "e.g. o-9" in page
    assert 'id="template-editor"' in page and "campaigns/template_editor.js" in page
    assert 'id="te-duplicate"' in page


def test_the_shops_custom_attributes_are_offered_with_a_default(admin_client):
    from campaigns.models import AttributeDefinition

    AttributeDefinition.objects.create(key="shoe_size", label="Shoe size", type="number")
    translation = TemplateTranslationFactory()

    page = admin_client.get(reverse("admin:campaigns_messagetemplate_change",
                                    args=[translation.template_id])).content.decode()

    assert 'data-insert="{{ customer.attributes.shoe_size | default(&quot;&quot;) }}"' in page
    assert "Shoe size (a custom attribute" in page


def test_duplicating_copies_every_translation_and_opens_the_copy(admin_client):
    original = TemplateTranslationFactory(locale="en").template
    TemplateTranslationFactory(template=original, locale="sv", subject="Hej")
    url = reverse("admin:campaigns_messagetemplate_duplicate", args=[original.pk])

    first = admin_client.post(url)
    second = admin_client.post(url)

    copy = MessageTemplate.objects.get(name=f"{original.name} (copy)")
    assert first.status_code == 302
    assert first["Location"] == reverse("admin:campaigns_messagetemplate_change", args=[copy.pk])
    assert sorted(copy.translations.values_list("locale", "subject")) == sorted(
        original.translations.values_list("locale", "subject"))
    assert MessageTemplate.objects.filter(name=f"{original.name} (copy 2)").exists()
    assert second.status_code == 302
    assert admin_client.get(url).status_code == 405


def test_the_duplicate_action_copies_the_selected_templates(admin_client):
    one = TemplateTranslationFactory().template
    two = TemplateTranslationFactory().template

    admin_client.post(reverse("admin:campaigns_messagetemplate_changelist"),
                      {"action": "duplicate_selected", "_selected_action": [one.pk, two.pk]})

    assert MessageTemplate.objects.filter(
        name__in=[f"{one.name} (copy)", f"{two.name} (copy)"]).count() == 2


def test_duplicating_needs_the_add_permission():
    template = TemplateTranslationFactory().template
    client = staff("change_messagetemplate", "view_messagetemplate")

    response = client.post(reverse("admin:campaigns_messagetemplate_duplicate", args=[template.pk]))

    assert response.status_code == 403
    assert MessageTemplate.objects.count() == 1


def test_a_new_default_layout_takes_over_from_the_old_one(admin_client):
    old = EmailLayout.objects.create(name="Old", is_default=True)

    response = admin_client.post(reverse("admin:campaigns_emaillayout_add"), {
        "name": "New", "is_default": "on", "brand_color": "#000000",
        "background_color": "#ffffff", "text_color": "#111111",
        "font": EmailLayout.Font.SANS, "logo_url": "", "company_name": "",
        "company_address": "", "footer_text": ""})

    assert response.status_code == 302
    old.refresh_from_db()
    assert not old.is_default and EmailLayout.objects.get(name="New").is_default


def test_a_layout_colour_must_be_a_hex_colour(admin_client):
    response = admin_client.post(reverse("admin:campaigns_emaillayout_add"), {
        "name": "Bad", "brand_color": "red;}body{x", "background_color": "#ffffff",
        "text_color": "#111111", "font": EmailLayout.Font.SANS})

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["brand_color"]
    assert not EmailLayout.objects.exists()


def test_the_layout_page_previews_the_layout(admin_client):
    layout = EmailLayout.objects.create(name="Shop", brand_color="#123456")

    page = admin_client.get(reverse("admin:campaigns_emaillayout_change", args=[layout.pk]))

    assert "background-color: #123456" in page.content.decode()
