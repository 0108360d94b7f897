"""The referral link, SITE_URL/r/<code>: counts the visit and sends the visitor on to the shop."""
import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpResponseRedirect
from django.views.decorators.http import require_http_methods

from campaigns import clock
from campaigns.services.referrals import (
    referral_click_record, referral_code_clean, referral_landing,
)
from campaigns.throttle import public_rate_check
from campaigns.views_consent import client_ip

logger = logging.getLogger(__name__)


@require_http_methods(["GET", "HEAD"])
def referral_redirect(request, code):
    """302 to REFERRAL_LANDING_URL with `ref=<code>` added for any well-formed code (live,
    revoked or unknown alike) and without it for anything else: the answer never tells
    whether a code exists. A GET of a live code's link is counted (a ReferralClick), at
    most REFERRAL_CLICKS_PER_MINUTE per client address; past that the visitor is still
    sent on, uncounted: a friend behind a busy shared address must still reach the shop,
    and a 429 for some codes only would tell which ones were tried. HEAD (link checkers)
    is never counted. Nothing about the visitor or the code is logged."""
    cleaned = referral_code_clean(code)
    if cleaned is not None and request.method == "GET":
        verdict = public_rate_check(
            limits=[("referral", client_ip(request) or "-", settings.REFERRAL_CLICKS_PER_MINUTE)],
            window_seconds=60)
        if verdict.allowed:
            try:
                referral_click_record(code=cleaned, now=clock.now())
            except DatabaseError as error:
                # The link must lead to the shop even while the database is away.
                logger.warning("referral click not recorded: %s", type(error).__name__)
    landing = settings.REFERRAL_LANDING_URL or f"{settings.SITE_URL}/"
    response = HttpResponseRedirect(referral_landing(cleaned, landing_url=landing))
    # Every visit reaches the server (a cached redirect would count nothing).
    response["Cache-Control"] = "no-store"
    return response
