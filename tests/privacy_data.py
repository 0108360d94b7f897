"""A customer with a row in every table that can hold their data (exports and erasure)."""
import datetime as dt

from campaigns.models import (
    Coupon, ErasureRequest, EventLine, Message, MessageEvent, MessageLog, PointsEntry, OrderLine, Segment,
    Referral, ReferralClick, ReferralCode, SegmentMembership,
    SubscriptionRequest,
)
from campaigns.services.consent import consent_record, email_hash
from campaigns.services.scheduling import scheduler_tick
from campaigns.services.sending import messages_send_due
from campaigns.services.surveys import survey_answer
from tests.factories import CustomerFactory, EventFactory, OrderFactory

EMAIL = "astrid.lindqvist@example.se"


def customer_with_everything(now: dt.datetime):
    """Needs the `welcome` and `policy` fixtures: the welcome email is really sent."""
    customer = CustomerFactory(external_id="shop-astrid", email=EMAIL, first_name="Astrid",
                               last_name="Lindqvist", attributes={"shoe_size": 38}, best_hour=20)
    consent_record(customer=customer, granted=True, source="checkout", wording_version="v3",
                   ip_address="203.0.113.7", user_agent="Firefox/128 Astrid's laptop")
    EventFactory(customer=customer, type="signup", occurred_at=now,
                 properties={"referrer": "astrids-blog.example"})
    scheduler_tick(now=now)
    messages_send_due(now=now)
    message = Message.objects.get(customer=customer, state="sent")
    # The log keeps deviations only; this send had one before it went.
    MessageLog.objects.create(message=message, at=now, state="deferred", reason="quiet_hours",
                              detail="deferred until 2026-03-02 07:00 UTC")
    MessageEvent.objects.create(message=message, provider="test", event_id="evt-astrid",
                                event_type="delivered", occurred_at=now,
                                payload={"recipient": EMAIL, "ip": "203.0.113.7"})
    order = OrderFactory(customer=customer, external_id="shop-order-77")
    EventFactory(customer=customer, type="purchase", occurred_at=now, order=order,
                 event_id="shop-purchase-77", properties={"gift_note": "To Astrid"})
    OrderLine.objects.create(order=order, customer=customer, sku="KNIFE-20", quantity=1,
                             price=order.amount, placed_at=now)
    cart = EventFactory(customer=customer, type="checkout.started", occurred_at=now)
    EventLine.objects.create(event=cart, customer=customer, sku="BOARD-1", quantity=2,
                             occurred_at=now)
    survey_answer(message=message, kind="nps", score=9, comment="Astrid here: great shop")
    PointsEntry.objects.create(customer=customer, delta=500, balance_after=500, reason="bonus")
    Coupon.objects.create(code="ASTR-IDCO-DE", customer=customer, redeemed_at=now,
                          redeemed_order="shop-order-77", expires_at=now + dt.timedelta(days=30))
    segment = Segment.objects.create(name="Shoe lovers", rule={})
    SegmentMembership.objects.create(segment=segment, customer=customer)
    SubscriptionRequest.objects.create(
        email=EMAIL, email_hash=email_hash(EMAIL), customer=customer, topics=["marketing"],
        first_name="Astrid", source="api", ip_address="203.0.113.7",
        user_agent="Firefox/128 Astrid's laptop", expires_at=now + dt.timedelta(days=7))
    ErasureRequest.objects.create(customer=customer, ip_address="203.0.113.7",
                                  user_agent="Firefox/128 Astrid's laptop")
    code = ReferralCode.objects.create(customer=customer, code="k7Qm2xTzR9pL")
    ReferralClick.objects.create(code=code, clicked_at=now)
    friend = CustomerFactory(external_id="shop-friend-1", first_name="Bo", last_name="Ek",
                             email="bo.ek@example.se")
    Referral.objects.create(referred=friend, referrer=customer, code=code.code,
                            status=Referral.Status.COUNTED, source="api", referred_at=now)
    referrer = CustomerFactory(external_id="shop-referrer-1", first_name="Eva", last_name="Ek",
                               email="eva.ek@example.se")
    Referral.objects.create(referred=customer, referrer=referrer, code="their-code",
                            status=Referral.Status.COUNTED, source="api", referred_at=now)
    return customer
