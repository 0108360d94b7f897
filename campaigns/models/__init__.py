"""Domain models, one module per domain."""
from .consent import ConsentEvent, ConsentSource, Subscription, Suppression, Topic
from .content import MessageTemplate, Purpose, TemplateTranslation
from .customers import ApiKey, Customer, Event, Order
from .deliveries import Enrollment, Message, MessageEvent, MessageLog
from .journeys import Campaign, FrequencyPolicy, JourneyStep

__all__ = [
    "ApiKey", "Campaign", "ConsentEvent", "ConsentSource", "Customer", "Enrollment", "Event",
    "FrequencyPolicy", "JourneyStep", "Message", "MessageEvent", "MessageLog", "MessageTemplate",
    "Order", "Purpose", "Subscription", "Suppression", "TemplateTranslation", "Topic",
]
