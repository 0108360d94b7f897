"""Refuse API bodies over 1 MB with 413 before anything parses them."""

from io import BytesIO

from django.http import JsonResponse

API_MAX_BODY_BYTES = 1024 * 1024


def _too_large(detail: str) -> JsonResponse:
    return JsonResponse(
        {
            "errors": [
                {
                    "field": "",
                    "message": f"{detail}; at most {API_MAX_BODY_BYTES} bytes "
                    "(1 MB) are accepted. Split the batch.",
                }
            ]
        },
        status=413,
    )


class ApiBodySizeLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            declared = request.META.get("CONTENT_LENGTH")
            if declared:
                try:
                    length = int(declared)
                except ValueError:
                    length = 0
                if length > API_MAX_BODY_BYTES:
                    return _too_large(f"The body is {length} bytes")
            elif request.method in ("POST", "PUT", "PATCH"):
                # No Content-Length (e.g. chunked under ASGI): read one byte past the
                # limit, and keep what was read as the body for the view.
                body = request.read(API_MAX_BODY_BYTES + 1)
                if len(body) > API_MAX_BODY_BYTES:
                    return _too_large("The body is over 1 MB")
                request._body = body
                request._stream = BytesIO(body)
        return self.get_response(request)
