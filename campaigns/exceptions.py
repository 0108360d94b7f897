"""Domain exceptions, each carrying the context needed to act on it."""


class CampaignsError(Exception):
    """Base of every domain error."""


class TemplateRenderError(CampaignsError):
    # The failure reason a message row records (admin.deliveries.REASON_WORDS).
    reason = "template_error"

    def __init__(self, message: str, *, template: str = "", locale: str = ""):
        super().__init__(message)
        self.template = template
        self.locale = locale


class TemplateTooSlowError(TemplateRenderError):
    """Rendering went past its time limit (TEMPLATE_RENDER_SECONDS)."""

    reason = "template_too_slow"


class TemplateTooLargeError(TemplateRenderError):
    """Rendering made a value or an output past its size limit (TEMPLATE_OUTPUT_BYTES)."""

    reason = "template_too_large"


class InvalidTokenError(CampaignsError):
    """A signed link token was forged, mangled or belongs to nobody."""


class CampaignTransitionError(CampaignsError):
    """A campaign status change its current status does not allow."""

    def __init__(self, message: str, *, campaign_id: int | None = None, from_status: str = "",
                 to_status: str = ""):
        super().__init__(message)
        self.campaign_id = campaign_id
        self.from_status = from_status
        self.to_status = to_status


class CampaignNotReadyError(CampaignTransitionError):
    """A campaign cannot be activated yet: its trigger or steps are incomplete."""
