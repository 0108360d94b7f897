"""Domain models, one module per domain."""
from .catalogue import EventLine, OrderLine, Product, ProductPair, TopSeller
from .consent import (
    ConsentEvent, ConsentSource, CountryPolicy, ErasureRequest, Subscription, SubscriptionRequest,
    Suppression, Topic,
)
from .content import EmailLayout, MessageTemplate, Purpose, TemplateTranslation
from .customers import ApiKey, AttributeDefinition, Customer, Event, LifecycleStage, Order
from .forecasts import ForecastJob
from .imports import ImportJob
from .deliveries import Deliverability, Dashboard, Enrollment, Message, MessageEvent, MessageLog
from .journeys import Campaign, FrequencyPolicy, JourneyStep, StepVariant
from .loyalty import Coupon, EarningRule, PointsEntry, Tier
from .ops import DataVersion, Heartbeat, RateLimitBucket
from .privacy import PrivacyRequest
from .referrals import Referral, ReferralClick, ReferralCode, ReferralProgram
from .segments import Segment, SegmentMembership
from .snapshots import MetricSnapshot, MetricSnapshotState
from .surveys import DetractorAnswer, SurveyQuestion, SurveyResponse

__all__ = [
    "ApiKey", "AttributeDefinition", "Campaign", "Coupon", "EarningRule", "ConsentEvent", "ConsentSource",
    "CountryPolicy", "Customer", "Deliverability", "EmailLayout", "Enrollment", "ErasureRequest",
    "DataVersion", "Event", "EventLine", "ForecastJob", "FrequencyPolicy", "Heartbeat", "ImportJob", "JourneyStep",
    "LifecycleStage", "Message",
    "MessageEvent", "MessageLog", "MessageTemplate", "MetricSnapshot", "MetricSnapshotState",
    "Order", "OrderLine", "PointsEntry", "PrivacyRequest", "Product", "ProductPair", "Purpose", "RateLimitBucket",
    "Referral", "ReferralClick", "ReferralCode", "ReferralProgram",
    "Segment", "SegmentMembership", "StepVariant", "Subscription", "SubscriptionRequest",
    "Suppression", "SurveyQuestion", "SurveyResponse", "DetractorAnswer", "Dashboard",
    "TemplateTranslation", "Tier", "TopSeller", "Topic",
]
