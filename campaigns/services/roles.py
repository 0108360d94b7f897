"""The two roles of the admin, as Django groups: "Marketers" and "Admins".

Admins may do everything. Marketers may do everything a marketer does (customers,
segments, campaigns, templates and layout, test sends, forecasts, dashboard, loyalty,
surveys; they read and correct the product catalogue) but may not see API keys, export or erase a customer, read the privacy audit
trail, or change the integration's and the site's settings (attributes, country rules,
provider or webhook settings, users and groups).

The groups are defined here, in code, and re-applied after every `migrate`: a permission
added by a new model reaches the right role without anyone clicking. A site that wants a
variation makes a group of its own (these two are reset to this definition).
"""
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q

MARKETERS = "Marketers"
ADMINS = "Admins"

# Permissions a marketer never gets, whatever the model (codenames).
MARKETER_FORBIDDEN_CODENAMES = frozenset({"export_customer", "erase_customer"})
# Models a marketer never sees (model names, lower case): keys that open the API, the
# audit trail of exports and erasures and the erasure requests (the data-protection
# officer's), the cache and the scheduler's own bookkeeping.
MARKETER_HIDDEN_MODELS = frozenset({
    "apikey", "privacyrequest", "erasurerequest", "heartbeat", "ratelimitbucket",
})
# Words in a model's name that mark it as the integration's settings (provider, webhook):
# hidden from marketers, including models added after this was written.
MARKETER_HIDDEN_HINTS = ("apikey", "provider", "webhook")
# Settings a marketer may read but not change: how the API reads attributes, the
# country rules of consent; customers' referral codes (only Admins revoke one).
MARKETER_VIEW_ONLY_MODELS = frozenset({"attributedefinition", "countrypolicy", "referralcode"})
# Rows the shop's feed owns: a marketer may read and correct them (a name, the reorder
# interval), not add or delete them.
MARKETER_VIEW_CHANGE_MODELS = frozenset({"product"})


def marketer_permissions():
    """Every permission of the campaigns app a marketer has (none of auth's: no users or
    groups)."""
    hidden = Q(content_type__model__in=MARKETER_HIDDEN_MODELS)
    for hint in MARKETER_HIDDEN_HINTS:
        hidden |= Q(content_type__model__contains=hint)
    view_only = Q(content_type__model__in=MARKETER_VIEW_ONLY_MODELS) & ~Q(codename__startswith="view_")
    view_change = Q(content_type__model__in=MARKETER_VIEW_CHANGE_MODELS) & (
        Q(codename__startswith="add_") | Q(codename__startswith="delete_"))
    return (
        Permission.objects.filter(content_type__app_label="campaigns")
        .exclude(hidden)
        .exclude(view_only)
        .exclude(view_change)
        .exclude(codename__in=MARKETER_FORBIDDEN_CODENAMES)
    )


def roles_ensure() -> dict[str, int]:
    """Create or reset the Marketers and Admins groups; returns each group's permission
    count. Safe to run any number of times."""
    with transaction.atomic():
        marketers, _ = Group.objects.get_or_create(name=MARKETERS)
        admins, _ = Group.objects.get_or_create(name=ADMINS)
        marketers.permissions.set(marketer_permissions())
        admins.permissions.set(Permission.objects.all())
    return {MARKETERS: marketers.permissions.count(), ADMINS: admins.permissions.count()}


def roles_ensure_after_migrate(sender, using="default", **kwargs):
    """post_migrate receiver (campaigns.apps): the roles, once the permissions exist."""
    # A plan that only went backwards (or a database without the auth tables) has nothing
    # to attach the groups to.
    from django.db import connections

    tables = connections[using].introspection.table_names()
    if "auth_group" not in tables or "auth_permission" not in tables:
        return
    roles_ensure()
