"""Template tags of the audit trail's pages."""
from django import template

from campaigns.selectors.audit import audit_trail

register = template.Library()


@register.simple_tag
def audit_entries(obj):
    """The audit trail of `obj` (newest first), or None when its model keeps none."""
    return audit_trail(obj=obj)
