from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Loyalty CRM"

    def ready(self):
        from campaigns import checks  # noqa: F401 - registers the system checks
        from campaigns.delivery import receivers  # noqa: F401 - connects anymail's tracking signal
        from campaigns.audit import audit_register

        audit_register()
