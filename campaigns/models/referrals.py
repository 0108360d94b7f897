"""Word of mouth: customers' referral codes, the clicks on their links, the friends they
brought (one `Referral` per new customer who arrived with a code) and the programme's
rewards, set in the admin (`ReferralProgram`, one row)."""
from django.db import models
from django.utils.translation import gettext_lazy as _

from campaigns import clock

from .customers import Customer, Order


class ReferralCode(models.Model):
    """A customer's personal, unguessable code (`SITE_URL/r/<code>`). Stable: made once,
    shown in every invite; revoking it stops it counting and the next invite gets a new one.
    Deleted with the customer's erasure (its clicks are kept, without it)."""

    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="referral_codes")
    code = models.CharField(_("code"), max_length=24, unique=True)
    created_at = models.DateTimeField(_("created at"), default=clock.now)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("referral code")
        verbose_name_plural = _("referral codes")
        constraints = [
            models.UniqueConstraint(fields=["customer"], name="referral_code_one_live",
                                    condition=models.Q(revoked_at__isnull=True)),
        ]

    def __str__(self):
        return self.code


class ReferralClick(models.Model):
    """One visit of a referral link that found a live code. Nothing about the visitor is
    kept (no address, no agent): the funnel needs only the count."""

    code = models.ForeignKey(ReferralCode, verbose_name=_("code"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="clicks")
    clicked_at = models.DateTimeField(_("clicked at"), default=clock.now, db_index=True)

    class Meta:
        verbose_name = _("referral click")
        verbose_name_plural = _("referral clicks")


class Referral(models.Model):
    """A new customer who arrived with a referral code: counted (the code was live and not
    their own) or ignored with the reason. At most one per new customer (the unique
    `referred`), so the same friend posted twice, even at once, is counted once.

    Erasing either person sets `referrer` to null: the row, and so the counts, stay; the
    link between the two people goes.
    """

    class Status(models.TextChoices):
        COUNTED = "counted", _("Counted")
        IGNORED = "ignored", _("Ignored")

    class Reason(models.TextChoices):
        NONE = "", _("—")
        MALFORMED = "malformed_code", _("Not a referral code")
        UNKNOWN = "unknown_code", _("No such code")
        REVOKED = "revoked_code", _("The code was revoked")
        SELF = "self_referral", _("The customer's own code (or the same email address)")

    class Reward(models.TextChoices):
        # No first order yet (or the programme gives nothing).
        PENDING = "pending", _("Waiting for the first order")
        # The first order is placed; the refund window has not passed yet.
        HOLDING = "holding", _("First order placed, refund window running")
        GRANTED = "granted", _("Rewarded")
        REVERSED = "reversed", _("Reversed (first order refunded)")
        NOT_GRANTED = "not_granted", _("Not rewarded")

    referred = models.OneToOneField(Customer, verbose_name=_("referred customer"),
                                    on_delete=models.CASCADE, related_name="referral")
    referrer = models.ForeignKey(Customer, verbose_name=_("referrer"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="referrals_made")
    # The code as posted (at most 64 characters kept), whatever it was.
    code = models.CharField(_("code"), max_length=64, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    reason = models.CharField(_("reason"), max_length=32, choices=Reason.choices, blank=True)
    # Where the code came in: "api", "import", …
    source = models.CharField(_("source"), max_length=16)
    referred_at = models.DateTimeField(_("referred at"), default=clock.now, db_index=True)
    first_order = models.ForeignKey(Order, verbose_name=_("first order"), null=True,
                                    blank=True, on_delete=models.SET_NULL, related_name="+")
    first_order_at = models.DateTimeField(_("first order at"), null=True, blank=True)
    reward = models.CharField(_("reward"), max_length=16, choices=Reward.choices,
                              default=Reward.PENDING)
    # Why a first order earned nothing, or the referrer's side nothing ("monthly_limit").
    reward_note = models.CharField(_("reward note"), max_length=32, blank=True)
    referrer_points = models.IntegerField(_("referrer's points"), default=0)
    friend_points = models.IntegerField(_("friend's points"), default=0)
    rewarded_at = models.DateTimeField(_("rewarded at"), null=True, blank=True)
    reversed_at = models.DateTimeField(_("reversed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        ordering = ["-referred_at", "-id"]
        indexes = [
            models.Index(fields=["referrer", "referred_at"], name="referral_referrer_at"),
            models.Index(fields=["reward", "first_order_at"], name="referral_reward_due"),
        ]

    def __str__(self):
        return f"{self.status} {self.code}"


class ReferralProgram(models.Model):
    """The programme's rules, one row edited in the admin (`ReferralProgram.current()`)."""

    class RewardKind(models.TextChoices):
        POINTS = "points", _("Loyalty points")
        COUPON = "coupon", _("A coupon code")

    active = models.BooleanField(_("active"), default=True, help_text=_(
        "Off: codes still count friends, but no one is rewarded."))
    reward_kind = models.CharField(_("reward"), max_length=8, choices=RewardKind.choices,
                                   default=RewardKind.POINTS)
    referrer_points = models.PositiveIntegerField(_("points for the referrer"), default=500)
    friend_points = models.PositiveIntegerField(_("points for the new customer"), default=250)
    coupon_valid_days = models.PositiveIntegerField(_("coupon valid for (days)"), default=60)
    refund_window_days = models.PositiveIntegerField(
        _("refund window (days)"), default=0,
        help_text=_("0: no window. Otherwise a refund of the first order within this many "
                    "days takes the rewards back (or, if held, they are never granted)."))
    hold_until_window_passes = models.BooleanField(
        _("reward only after the refund window"), default=False,
        help_text=_("Wait until the window has passed without a refund before rewarding."))
    monthly_limit_per_referrer = models.PositiveIntegerField(
        _("rewards per referrer per month"), default=10,
        help_text=_("0: no limit. Friends past the limit still count and are still rewarded "
                    "themselves; the referrer is not."))
    updated_at = models.DateTimeField(_("updated at"), default=clock.now)

    class Meta:
        verbose_name = _("referral programme")
        verbose_name_plural = _("referral programme")

    def __str__(self):
        return str(_("Referral programme"))

    @classmethod
    def current(cls) -> "ReferralProgram":
        """The one row, made with the defaults the first time it is asked for."""
        program = cls.objects.order_by("pk").first()
        return program if program is not None else cls.objects.create()
