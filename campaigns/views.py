"""Public pages reached from emails: unsubscribe."""
from django.http import HttpResponse


def unsubscribe(request, token):
    return HttpResponse(status=501)
