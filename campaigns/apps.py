from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Loyalty CRM")

    def ready(self):
        from campaigns import checks  # noqa: F401 - registers the system checks
        from campaigns.delivery import receivers  # noqa: F401 - connects anymail's tracking signal
        from campaigns.audit import audit_register
        from campaigns.services.data_versions import data_version_triggers_after_migrate
        from campaigns.services.roles import roles_ensure_after_migrate

        audit_register()

        # After every migrate (and every test database flush), once auth has made this
        # app's permissions: the Marketers and Admins groups exist with their permissions.
        post_migrate.connect(roles_ensure_after_migrate, sender=self,
                             dispatch_uid="campaigns.roles_ensure")
        # SQLite drops a table's triggers when a migration rebuilds it: the catalogue
        # cache's are made again (services/data_versions.py).
        post_migrate.connect(data_version_triggers_after_migrate, sender=self,
                             dispatch_uid="campaigns.data_version_triggers")


class LoyaltyAdminConfig(AdminConfig):
    """django.contrib.admin with our site as the default one: every `@admin.register` and
    `admin.site` in the project (and in third-party apps) uses it. The site lives outside the
    campaigns.admin package: importing it from there would first import that package,
    whose modules register on the site while it is still being made, and lose them."""

    default_site = "campaigns.admin_site.LoyaltyAdminSite"
