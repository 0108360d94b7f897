"""Domain models, one module per domain."""
from .consent import ConsentEvent, ConsentSource, Subscription, Suppression, Topic
from .content import MessageTemplate, Purpose, TemplateTranslation
from .customers import ApiKey, Customer, Event, Order
from .deliveries import Enrollment, Message, MessageEvent, MessageLog
from .journeys import Campaign, FrequencyPolicy, JourneyStep, StepVariant
from .loyalty import PointsEntry
from .surveys import SurveyResponse

__all__ = [
    "ApiKey", "Campaign", "ConsentEvent", "ConsentSource", "Customer", "Enrollment", "Event",
    "FrequencyPolicy", "JourneyStep", "Message", "MessageEvent", "MessageLog", "MessageTemplate",
    "Order", "PointsEntry", "Purpose", "StepVariant", "Subscription", "Suppression", "SurveyResponse", "TemplateTranslation", "Topic",
]
