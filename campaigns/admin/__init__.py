"""The marketer's workplace: one module per model family, all registered on the default site
(campaigns.admin_site.LoyaltyAdminSite, which groups its home page by task)."""
from . import api_keys, catalogue  # noqa: F401
from . import attributes, consent, content, customers, deliveries, forecasts, imports  # noqa: F401
from . import dashboard, journeys, loyalty, privacy, segments, surveys  # noqa: F401
from . import referral_codes, referral_list, referral_program  # noqa: F401
