"""Duplicating a message template with all its translations, in one transaction."""
from django.db import transaction
from django.utils.translation import gettext as _

from campaigns.models import MessageTemplate, TemplateTranslation

_NAME_LENGTH = MessageTemplate._meta.get_field("name").max_length


def _copy_name(name: str) -> str:
    """"<name> (copy)", then "(copy 2)", "(copy 3)"… : the first one no template has yet."""
    taken = set(MessageTemplate.objects.filter(name__startswith=name[:150]).values_list("name", flat=True))
    number = 1
    while True:
        suffix = (_("%(name)s (copy)") if number == 1 else _("%(name)s (copy %(number)s)"))
        candidate = suffix % {"name": name, "number": number}
        if len(candidate) > _NAME_LENGTH:  # a long name is shortened, never the suffix
            overflow = len(candidate) - _NAME_LENGTH
            candidate = suffix % {"name": name[:len(name) - overflow - 1] + "…", "number": number}
        if candidate not in taken:
            return candidate
        number += 1


@transaction.atomic
def template_duplicate(*, template: MessageTemplate) -> MessageTemplate:
    """A copy of `template` named "<name> (copy)" (unique), with every translation, each at
    version 1. Journey steps keep using the original."""
    translations = list(template.translations.all())
    copy = MessageTemplate.objects.create(
        name=_copy_name(template.name), purpose=template.purpose, topic=template.topic,
        similar_products=template.similar_products, default_locale=template.default_locale,
        layout=template.layout, raw_html=template.raw_html,
    )
    TemplateTranslation.objects.bulk_create([
        TemplateTranslation(template=copy, locale=t.locale, subject=t.subject,
                            html_body=t.html_body, text_body=t.text_body)
        for t in translations
    ])
    return copy
