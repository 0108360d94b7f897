"""Public pages reached from emails: one-click unsubscribe (RFC 8058)."""
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from campaigns.exceptions import InvalidTokenError
from campaigns.models import ConsentSource, Customer
from campaigns.services.consent import consent_withdraw_all
from campaigns.tokens import unsubscribe_token_read


def _customer_for(token: str) -> Customer | None:
    try:
        customer_id = unsubscribe_token_read(token=token)
    except InvalidTokenError:
        return None
    return Customer.objects.filter(pk=customer_id).first()


@csrf_exempt  # Mail providers POST here with no cookie and no CSRF token (RFC 8058).
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    """GET shows a confirmation page and changes nothing (link scanners follow GETs).

    POST unsubscribes at once from all marketing, answers 200 without a redirect, is
    idempotent, and says the same for an unknown token as for a known one.
    """
    customer = _customer_for(token)
    if request.method == "GET":
        return render(request, "campaigns/unsubscribe_confirm.html", {"token": token})
    if customer is not None:
        consent_withdraw_all(
            customer=customer,
            source=ConsentSource.UNSUBSCRIBE_LINK,
            method="one-click" if "List-Unsubscribe" in request.POST else "web-form",
            ip_address=request.META.get("REMOTE_ADDR") or None,
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
    response = render(request, "campaigns/unsubscribe_done.html", status=200)
    return response


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")
