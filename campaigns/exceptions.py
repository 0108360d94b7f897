"""Domain exceptions, each carrying the context needed to act on it."""


class CampaignsError(Exception):
    """Base of every domain error."""


class TemplateRenderError(CampaignsError):
    def __init__(self, message: str, *, template: str = "", locale: str = ""):
        super().__init__(message)
        self.template = template
        self.locale = locale


class InvalidTokenError(CampaignsError):
    """A signed link token was forged, mangled or belongs to nobody."""
