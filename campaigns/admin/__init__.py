"""The marketer's workplace: one module per model family, all registered on the default site."""
from django.contrib import admin

from . import api_keys  # noqa: F401
from . import attributes, consent, content, customers, deliveries, forecasts, imports  # noqa: F401
from . import dashboard, journeys, loyalty, privacy, segments, surveys  # noqa: F401

admin.site.site_header = "Loyalty CRM"
admin.site.site_title = "Loyalty CRM"
admin.site.index_title = "Campaigns, customers and messages"
