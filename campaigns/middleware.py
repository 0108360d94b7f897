"""Refuse API bodies over 1 MB with 413 before anything reads them."""
from django.http import JsonResponse

API_MAX_BODY_BYTES = 1024 * 1024


class ApiBodySizeLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > API_MAX_BODY_BYTES:
                return JsonResponse(
                    {
                        "errors": [
                            {
                                "field": "",
                                "message": f"The body is {length} bytes; at most "
                                f"{API_MAX_BODY_BYTES} bytes (1 MB) are accepted. "
                                "Split the batch.",
                            }
                        ]
                    },
                    status=413,
                )
        return self.get_response(request)
