"""The campaign page's results: what its messages did, in words (a mixin of CampaignAdmin).

Each figure comes from `selectors.campaign_results` in a fixed number of grouped queries.
The sentences are built here, whole and translatable, and laid out by the templates in
templates/admin/campaigns/results/.
"""
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, ngettext_lazy

from campaigns import clock
from campaigns.models import Message
from campaigns.selectors import campaign_results as results
from campaigns.selectors.audit import audit_deleted, audit_trail
from campaigns.selectors.deliverability import campaign_delivery_numbers
from campaigns.services.scheduling import customer_zone

from .deliveries import REASON_WORDS, duration_words, local_time

# Exit reasons the scheduler records that the shared reason words do not name.
EXIT_WORDS = {
    "erased": gettext_lazy("the customer's data was erased"),
    "exited": gettext_lazy("the customer left the journey"),
}


def reason_words(reason: str) -> str:
    if not reason:
        return _("no reason recorded")
    return str(REASON_WORDS.get(reason) or EXIT_WORDS.get(reason) or reason.replace("_", " "))


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}" if whole else "0"


def _pp(value) -> str:
    return "—" if value is None else f"{value * 100:+.1f}"


class CampaignResultsMixin:
    """Read-only fields of the campaign page's "Results so far" section, and the audit
    trail of deleted campaigns (/admin/campaigns/campaign/deleted/)."""

    results_fields = ["results_reach", "results_messages", "results_impact", "scheduling_lag",
                      "latest_messages"]

    def get_urls(self):
        own = [path("deleted/", self.admin_site.admin_view(self.deleted_history_view),
                    name="campaigns_campaign_deleted")]
        return own + super().get_urls()

    def deleted_history_view(self, request):
        """Deleted campaigns and, for the one picked (?id=), its whole audit trail."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        deleted = audit_deleted(model=self.model)
        picked = request.GET.get("id", "")
        chosen = next((row for row in deleted if str(row.id) == picked), None)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Deleted campaigns and their history"),
            "opts": self.model._meta,
            "deleted": deleted,
            "chosen": chosen,
            "unknown": bool(picked) and chosen is None,
            "entries": audit_trail(model=self.model, pk=chosen.id) if chosen else None,
        }
        return TemplateResponse(request, "admin/campaigns/results/deleted.html", context)

    def _render(self, name: str, **context) -> str:
        return render_to_string(f"admin/campaigns/results/{name}.html", context)

    @admin.display(description=gettext_lazy("Who entered"))
    def results_reach(self, obj):
        if obj.pk is None:
            return "—"
        enrolled = results.campaign_enrolled(campaign_id=obj.pk)
        if not enrolled.total:
            return _("Nobody has entered this journey yet.")
        exited = sum(enrolled.exited.values())
        lines = [
            ngettext(
                "%(total)s customer entered the journey: %(active)s still in it, "
                "%(completed)s finished, %(exited)s left early.",
                "%(total)s customers entered the journey: %(active)s still in it, "
                "%(completed)s finished, %(exited)s left early.",
                enrolled.total,
            ) % {"total": enrolled.total, "active": enrolled.active,
                 "completed": enrolled.completed, "exited": exited},
        ]
        lines += [
            ngettext("%(n)s left because %(reason)s.", "%(n)s left because %(reason)s.", n)
            % {"n": n, "reason": reason_words(reason)}
            for reason, n in sorted(enrolled.exited.items(), key=lambda item: -item[1])
        ]
        if enrolled.holdout:
            lines.append(ngettext(
                "%(n)s of them is in the holdout group: kept out on purpose, gets no email, "
                "so the campaign's effect can be measured.",
                "%(n)s of them are in the holdout group: kept out on purpose, get no email, "
                "so the campaign's effect can be measured.",
                enrolled.holdout) % {"n": enrolled.holdout})
        return self._render("lines", lines=lines)

    @admin.display(description=gettext_lazy("What happened to its emails"))
    def results_messages(self, obj):
        if obj.pk is None:
            return "—"
        outcomes = results.campaign_outcomes(campaign_id=obj.pk)
        numbers = campaign_delivery_numbers(campaign_id=obj.pk)
        if not outcomes.by_state:
            return _("No emails planned yet.")
        waiting = sum(outcomes.count(s) for s in (Message.State.PENDING, Message.State.CLAIMED,
                                                  Message.State.SENDING))
        lines = [ngettext("%(n)s email sent.", "%(n)s emails sent.", numbers.sent)
                 % {"n": numbers.sent}]
        if waiting:
            lines.append(ngettext("%(n)s waiting to be sent.", "%(n)s waiting to be sent.",
                                  waiting) % {"n": waiting})
        for reason, (times, messages) in sorted(outcomes.deferred.items(), key=lambda i: -i[1][0]):
            lines.append(ngettext(
                "Deferred %(times)s time (%(messages)s email) because of %(reason)s.",
                "Deferred %(times)s times (%(messages)s emails) because of %(reason)s.",
                times) % {"times": times, "messages": messages, "reason": reason_words(reason)})
        # Lazy plurals: the count ("n") picks the form when the line is made.
        words = {
            Message.State.SKIPPED: ngettext_lazy("%(n)s not sent: %(reason)s.",
                                                 "%(n)s not sent: %(reason)s.", "n"),
            Message.State.EXPIRED: ngettext_lazy("%(n)s expired unsent: %(reason)s.",
                                                 "%(n)s expired unsent: %(reason)s.", "n"),
            Message.State.FAILED: ngettext_lazy("%(n)s failed: %(reason)s.",
                                                "%(n)s failed: %(reason)s.", "n"),
            Message.State.UNKNOWN: ngettext_lazy("%(n)s with an unknown outcome: %(reason)s.",
                                                 "%(n)s with an unknown outcome: %(reason)s.", "n"),
        }
        for state, sentence in words.items():
            for reason, n in sorted(outcomes.by_state.get(state, {}).items(), key=lambda i: -i[1]):
                lines.append(sentence % {"n": n, "reason": reason_words(reason)})
        lines += self._tracking_lines(numbers)
        conversions = results.campaign_conversions(campaign_id=obj.pk)
        if conversions.sent:
            lines.append(ngettext(
                "%(converted)s of %(sent)s sent emails (%(pct)s %%) were followed by a "
                "purchase within %(days)s day.",
                "%(converted)s of %(sent)s sent emails (%(pct)s %%) were followed by a "
                "purchase within %(days)s days.",
                conversions.attribution_days,
            ) % {"converted": conversions.converted, "sent": conversions.sent,
                 "days": conversions.attribution_days,
                 "pct": _pct(conversions.converted, conversions.sent)})
        bought = results.campaign_recommended_bought(campaign_id=obj.pk)
        if bought.emails:
            lines.append(ngettext(
                "Bought a recommended product within %(days)s days: %(n)s customer "
                "(revenue %(revenue)s).",
                "Bought a recommended product within %(days)s days: %(n)s customers "
                "(revenue %(revenue)s).",
                bought.customers,
            ) % {"days": bought.days, "n": bought.customers, "revenue": f"{bought.revenue:.2f}"})
        return self._render("lines", lines=lines)

    def _tracking_lines(self, numbers) -> list[str]:
        if not numbers.sent:
            return []
        lines = [_("The provider reported %(delivered)s delivered (%(delivered_pct)s %%), "
                   "%(bounced)s bounced (%(bounced_pct)s %%) and %(complained)s marked as "
                   "spam (%(complained_pct)s %%).") % {
            "delivered": numbers.delivered, "bounced": numbers.bounced,
            "complained": numbers.complained,
            "delivered_pct": _pct(numbers.delivered, numbers.sent),
            "bounced_pct": _pct(numbers.bounced, numbers.sent),
            "complained_pct": _pct(numbers.complained, numbers.sent)}]
        if settings.TRACK_OPENS:
            lines.append(_("Opened: %(n)s (%(pct)s %%, by the tracking pixel).") % {
                "n": numbers.opened, "pct": _pct(numbers.opened, numbers.sent)})
        else:
            lines.append(_("Opens are not tracked on this site, so there is no open count."))
        if settings.TRACK_CLICKS:
            lines.append(_("Clicked: %(n)s (%(pct)s %%, at least one link).") % {
                "n": numbers.clicked, "pct": _pct(numbers.clicked, numbers.sent)})
        else:
            lines.append(_("Clicks are not tracked on this site, so there is no click count."))
        return lines

    @admin.display(description=gettext_lazy("Effect (holdout and A/B tests)"))
    def results_impact(self, obj):
        if obj.pk is None:
            return "—"
        now = clock.now()
        lift = results.campaign_lift(campaign_id=obj.pk, now=now)
        lift_lines = []
        if lift is None:
            lift_lines.append(_("No holdout group, so the campaign's effect is not measured. "
                                "Set a holdout share to measure it."))
        else:
            rate = lift["lift"]["conversion_rate"]
            treated, holdout = lift["treated"], lift["holdout"]
            lift_lines.append(_(
                "Bought within %(days)s days of entering: %(treated_pct)s %% of %(treated)s "
                "who got the emails, %(holdout_pct)s %% of %(holdout)s in the holdout group."
            ) % {"days": lift["attribution_days"],
                 "treated_pct": _pct(treated["conversions"], treated["customers"]),
                 "treated": treated["customers"],
                 "holdout_pct": _pct(holdout["conversions"], holdout["customers"]),
                 "holdout": holdout["customers"]})
            if rate["difference"] is not None and rate["ci_low"] is not None:
                lift_lines.append(_(
                    "Lift: %(diff)s percentage points (95 %% interval %(low)s to %(high)s)."
                ) % {"diff": _pp(rate["difference"]), "low": _pp(rate["ci_low"]),
                     "high": _pp(rate["ci_high"])})
            lift_lines.append(_(rate["verdict_words"]))
        variants = results.campaign_variants(campaign_id=obj.pk, now=now)
        # Counted from 1, as the campaign page numbers its steps (stored from 0).
        positions = ({pk: position + 1 for pk, position in obj.steps.values_list("pk", "position")}
                     if variants else {})
        tests = []
        for step in variants:
            rows = []
            for v in step["variants"]:
                vs = v["vs_control"]["conversion_rate"] if v["vs_control"] else None
                rows.append({
                    "name": v["variant"], "sends": v["sends"],
                    "opens": v["opens"] if settings.TRACK_OPENS else "—",
                    "clicks": v["clicks"] if settings.TRACK_CLICKS else "—",
                    "conversions": v["conversions"],
                    "rate": _pct(v["conversions"], v["sends"]),
                    "difference": (_("%(diff)s points (%(low)s to %(high)s)") % {
                        "diff": _pp(vs["difference"]), "low": _pp(vs["ci_low"]),
                        "high": _pp(vs["ci_high"])}) if vs and vs["ci_low"] is not None else "—",
                    # The verdicts are campaigns.stats' words, translated where listed.
                    "verdict": _(results_verdict(vs)),
                })
            tests.append({"title": _("Step %(position)s: A/B test against “%(control)s”") % {
                "position": positions.get(step["step_id"], "?"), "control": step["control"]},
                "rows": rows})
        return self._render("impact", lift_lines=lift_lines, tests=tests)

    @admin.display(description=gettext_lazy("Scheduling lag (last 7 days)"))
    def scheduling_lag(self, obj):
        """How late the last week's emails went out after they could first go."""
        if obj.pk is None:
            return "—"
        tick = settings.TICK_SECONDS
        lag = results.campaign_lag(campaign_id=obj.pk, now=clock.now(), grace=2 * tick)
        if not lag.count:
            return _("No emails sent in the last 7 days.")
        # A send waits for the next tick and its turn in the queue: up to two ticks is normal.
        healthy = lag.p95 <= 2 * tick
        if lag.count == 1:
            text = _("The one email went out %(lag)s after the moment it could go.") % {
                "lag": duration_words(lag.worst)}
        else:
            text = _(
                "Half of the %(count)s emails went out within %(median)s of the moment they "
                "could go, 95 %% within %(p95)s, the latest after %(worst)s."
            ) % {"count": lag.count, "median": duration_words(lag.median),
                 "p95": duration_words(lag.p95), "worst": duration_words(lag.worst)}
        text += " " + (_("That is healthy (the scheduler runs every %(tick)s).")
                       if healthy else
                       _("That is slower than the scheduler's pace (every %(tick)s): the "
                         "workers may be too few or stopped.")) % {"tick": duration_words(tick)}
        if lag.planned_late:
            text += " " + ngettext(
                "%(n)s email was planned well after its due time had passed (its trigger "
                "reached us late, e.g. imported history); it is measured from when it was "
                "planned.",
                "%(n)s emails were planned well after their due time had passed (their trigger "
                "reached us late, e.g. imported history); they are measured from when they "
                "were planned.",
                lag.planned_late) % {"n": lag.planned_late}
        return text

    @admin.display(description=gettext_lazy("Latest emails, as the customer received them"))
    def latest_messages(self, obj):
        if obj.pk is None:
            return "—"
        messages = results.campaign_latest_messages(campaign_id=obj.pk)
        if not messages:
            return _("No emails sent yet.")
        rows = [{
            # No customer named here: the page behind the link needs the right to see customers.
            "url": reverse("admin:campaigns_message_as_sent", args=[m.pk]),
            "subject": m.subject or _("(no subject)"),
            "sent": local_time(m.sent_at, customer_zone(m.customer.time_zone)),
            # Counted from 1, as the campaign page numbers its steps (stored from 0).
            "step": m.step.position + 1,
            "variant": m.variant.name if m.variant_id else "",
        } for m in messages]
        return self._render("latest", rows=rows)


def results_verdict(vs) -> str:
    from campaigns.stats import VARIANT_VERDICT_WORDS

    return _(VARIANT_VERDICT_WORDS[vs["verdict"]]) if vs else _("Control.")

