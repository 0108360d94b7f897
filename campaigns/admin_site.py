"""The admin site: its home grouped by what a marketer does, not by Django app.

Every `@admin.register` in the project lands here (campaigns.apps.LoyaltyAdminConfig makes
this the default site). A model the groups below do not name still shows, in "Other", so
a newly registered model never disappears from the home page.
"""
from dataclasses import dataclass

from django.conf import settings
from django.contrib import admin
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Group:
    key: str
    name: str
    description: str
    # "app_label.ModelName" in the order a marketer looks for them.
    models: tuple[str, ...]
    # Words in a model's class name that put an unlisted model here (a model another part
    # of the project adds later, e.g. a layout or a forecast).
    hints: tuple[str, ...] = ()


GROUPS = (
    Group("customers", _("Customers"),
          _("Who your customers are, what they bought and did, and what they agreed to."),
          ("campaigns.Customer", "campaigns.Segment", "campaigns.Order", "campaigns.Event",
           "campaigns.ImportJob", "campaigns.ConsentEvent", "campaigns.Suppression",
           "campaigns.SubscriptionRequest", "campaigns.Referral"),
          ("Customer", "Segment", "Consent", "Import")),
    Group("campaigns", _("Campaigns"),
          _("Journeys, the messages they send and the rules against over-messaging."),
          ("campaigns.Campaign", "campaigns.StepVariant", "campaigns.Message",
           "campaigns.Enrollment", "campaigns.MessageEvent", "campaigns.FrequencyPolicy"),
          ("Campaign", "Journey", "Forecast", "Enrollment", "Frequency", "Audit")),
    Group("content", _("Content"),
          _("The emails' words and looks: templates, their translations, the shared layout "
            "and the product catalogue they show."),
          ("campaigns.EmailLayout", "campaigns.MessageTemplate", "campaigns.TemplateTranslation",
           "campaigns.Product"),
          ("Template", "Layout", "Snippet", "Product")),
    Group("loyalty", _("Loyalty"),
          _("Points, tiers, coupons and the rules that earn them."),
          ("campaigns.PointsEntry", "campaigns.Coupon", "campaigns.EarningRule", "campaigns.Tier",
           "campaigns.ReferralProgram"),
          ("Points", "Coupon", "Tier", "Reward", "Referral")),
    Group("insights", _("Insights"),
          _("How the shop and the campaigns are doing: dashboard, surveys and deliverability."),
          ("campaigns.Dashboard", "campaigns.SurveyResponse", "campaigns.DetractorAnswer",
           "campaigns.SurveyQuestion", "campaigns.Deliverability"),
          ("Dashboard", "Survey", "Report", "Metric")),
    Group("settings", _("Settings"),
          _("Access, integrations and data protection: for the shop's administrators."),
          ("campaigns.ApiKey", "campaigns.AttributeDefinition", "campaigns.CountryPolicy",
           "campaigns.PrivacyRequest", "campaigns.ErasureRequest", "auth.User", "auth.Group"),
          ("ApiKey", "Provider", "Webhook", "Setting")),
)
OTHER = Group("other", _("Other"), _("Everything else."), ())


def group_of(label: str) -> Group:
    """The group a model ("app_label.ModelName") belongs to: named, else by a hint in its
    name, else Other."""
    for group in GROUPS:
        if label in group.models:
            return group
    name = label.partition(".")[2]
    for group in GROUPS:
        if any(hint in name for hint in group.hints):
            return group
    return OTHER


class LoyaltyAdminSite(admin.AdminSite):
    site_header = _("Loyalty CRM")
    site_title = _("Loyalty CRM")
    index_title = _("What would you like to do?")

    def each_context(self, request):
        context = super().each_context(request)
        # "View site" leads to the public landing page (loyaltycrm/urls.py), or to the
        # shop when ADMIN_VIEW_SITE_URL names it.
        context["site_url"] = settings.ADMIN_VIEW_SITE_URL or "/"
        return context

    def get_app_list(self, request, app_label=None):
        """The home page and the sidebar: the models the user may see, in the marketer's
        groups. An app's own page (/admin/campaigns/) keeps Django's list."""
        if app_label is not None:
            return super().get_app_list(request, app_label)
        models = [
            model
            for app in self._build_app_dict(request).values()
            for model in app["models"]
        ]
        groups = {group.key: [] for group in (*GROUPS, OTHER)}
        for model in models:
            label = model["model"]._meta.label
            groups[group_of(label).key].append(model)
        app_list = []
        for group in (*GROUPS, OTHER):
            members = groups[group.key]
            if not members:
                continue
            order = {label: index for index, label in enumerate(group.models)}
            members.sort(key=lambda m: (order.get(m["model"]._meta.label, len(order)),
                                        str(m["name"])))
            app_list.append({
                "name": group.name,
                "description": group.description,
                "app_label": group.key,
                # Groups have no page of their own: the title links to its place on the home.
                "app_url": f"{self.index_url()}#group-{group.key}",
                "has_module_perms": True,
                "models": members,
                "is_group": True,
            })
        return app_list

    def index_url(self) -> str:
        from django.urls import reverse

        return reverse(f"{self.name}:index")
