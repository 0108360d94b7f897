"""Record: write what the provider said, as soon as a group's calls come back.

The common case is set-based: one UPDATE marks the sent rows (provider id, subject,
locale, scheduling lag, the products recommended, whether it carried a referral link;
the legal ground was written with `sending`), one UPDATE per
step position lets their enrollments go on, or ends them when the send was the journey's
last step. No log line: the message row explains the normal path. Deviations (retry,
unknown, failed) are rare and each gets its row change and a log line with the reason.

An outcome that came back is never lost to a database outage: the record is retried,
with a fresh connection, until the database answers again (or RECORD_RETRY_SECONDS
pass, and then the rows are left `sending`, which the tick turns `unknown`).
"""
import datetime as dt
import json
import logging
import time

from django.db import InterfaceError, OperationalError, connection, transaction

from campaigns.delivery import failures
from campaigns.models import Enrollment, Message
from campaigns.services.sending.decide import settle
from campaigns.services.sending.handover import RELEASED, SENT, TEMPLATE_ERROR

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
RECORD_RETRY_SECONDS = 300
# A late outcome may find its row already turned `unknown` by the tick (the lease ran out
# while the database was away): what the provider said still wins.
_RECORDABLE = (Message.State.SENDING, Message.State.UNKNOWN)


def _sent_update(rows: list[tuple]) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"""UPDATE {Message._meta.db_table} AS m SET state = %s, claimed_until = NULL,
                        provider_message_id = v.pid, subject = v.subject, locale = v.locale,
                        lag_seconds = v.lag, recommended = v.recommended::jsonb,
                        referral_invite = v.invite
                    FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[],
                                %s::double precision[], %s::text[], %s::boolean[])
                         AS v(id, pid, subject, locale, lag, recommended, invite)
                    WHERE m.id = v.id AND m.state = ANY(%s)""",
                [Message.State.SENT, *map(list, zip(*rows)), list(_RECORDABLE)],
            )
        return
    # SQLite has no unnest: one prepared statement run for each row, in one call.
    with connection.cursor() as cursor:
        cursor.executemany(
            f"""UPDATE {Message._meta.db_table} SET state = %s, claimed_until = NULL,
                    provider_message_id = %s, subject = %s, locale = %s, lag_seconds = %s,
                    recommended = %s, referral_invite = %s
                WHERE id = %s AND state IN (%s, %s)""",
            [(Message.State.SENT, provider_id, subject, locale, lag, recommended, invite, pk,
              *_RECORDABLE)
             for pk, provider_id, subject, locale, lag, recommended, invite in rows],
        )


def enrollments_after_send(*, messages: list[Message], now: dt.datetime, last_positions: dict) -> None:
    """Settled sends let their enrollments go on: one UPDATE per step position. A send
    that was its journey's last step ends the enrollment at once (no later tick needed)."""
    moves: dict[tuple[int, bool], list[int]] = {}
    for message in messages:
        position = message.step.position
        last = position >= last_positions.get(message.campaign_id, position)
        moves.setdefault((position, last), []).append(message.enrollment_id)
    for (position, last), enrollment_ids in moves.items():
        changes = {"next_action_at": now, "step_position": position + 1}
        if last:
            changes.update(state=Enrollment.State.COMPLETED, finished_at=now, next_action_at=None)
        Enrollment.objects.filter(
            pk__in=enrollment_ids, state=Enrollment.State.ACTIVE, step_position=position
        ).update(**changes)


def _recommended(message: Message) -> str | None:
    """The product ids the message's `recommendations(...)` showed, as JSON (None if none):
    written by the same UPDATE that records the send, never a row write of its own."""
    shown = getattr(message, "recommended_shown", None)
    return json.dumps(shown) if shown else None


def _record_sent(sent: list[tuple[Message, dict]], *, now, last_positions) -> None:
    if not sent:
        return
    # Scheduling lag: how late after the moment it was allowed to go (its due time, after
    # any deferral) it went out. Under one tick is healthy.
    _sent_update([
        (message.pk, data["provider_message_id"][:200], data["subject"][:300], data["locale"],
         (now - message.due_at).total_seconds(), _recommended(message),
         # It carried the customer's referral link (services.referral_context).
         bool(getattr(message, "referral_shown", False)))
        for message, data in sent
    ])
    enrollments_after_send(messages=[m for m, _ in sent], now=now, last_positions=last_positions)


def _duration(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


def _record_deviation(message, outcome, data, *, now, report) -> None:
    if outcome == RELEASED:
        # Never handed over: due again as it was, the attempt and cap slot given back.
        report.released += 1
        settle(message, state=Message.State.PENDING, reason=data["reason"], now=now,
               detail=data["detail"], sent_at=None, claimed_until=None,
               attempts=message.attempts - 1, log_state="deferred")
    elif outcome == failures.RETRY and message.attempts < MAX_ATTEMPTS:
        # Nothing reached the customer: free the cap slot and try again later, not sooner
        # than the provider asked (Retry-After).
        report.deferred += 1
        delay = failures.retry_delay(attempts=message.attempts, asked=data["retry_after"])
        settle(message, state=Message.State.PENDING, reason=data["reason"], now=now,
               detail=f"{data['detail']}; next try in {_duration(delay)}",
               sent_at=None, claimed_until=None, due_at=now + delay, log_state="deferred")
    elif outcome == failures.UNKNOWN:
        # It may have reached the customer: it keeps its send time (and cap slot) and is
        # never resent; a later webhook can still confirm it (RL-7).
        report.unknown += 1
        settle(message, state=Message.State.UNKNOWN, reason=data["reason"], now=now,
               detail=f"{data['detail']}; legal ground: "
                      f"{getattr(message, 'legal_ground', '') or 'n/a'}",
               claimed_until=None)
    else:
        report.failed += 1
        detail = data["detail"]
        if outcome == failures.RETRY:
            detail = f"{detail}; gave up after {message.attempts} attempts"
        settle(message, state=Message.State.FAILED,
               reason=data.get("reason", outcome if outcome != TEMPLATE_ERROR else "template_error"),
               now=now, detail=detail, sent_at=None, claimed_until=None)


def _record_once(outcomes, *, now, report, last_positions) -> None:
    with transaction.atomic():
        sent = [(message, data) for message, outcome, data in outcomes if outcome == SENT]
        _record_sent(sent, now=now, last_positions=last_positions)
        for message, outcome, data in outcomes:
            if outcome != SENT:
                _record_deviation(message, outcome, data, now=now, report=report)
    report.sent += len(sent)
    report.sent_ids.extend(message.pk for message, _ in sent)


def outcomes_record(outcomes: list[tuple], *, now, report, last_positions: dict,
                    sleep=time.sleep) -> None:
    """Record a group's outcomes in one transaction, retried through a database outage."""
    if not outcomes:
        return
    waited, pause = 0.0, 0.5
    while True:
        try:
            _record_once(outcomes, now=now, report=report, last_positions=last_positions)
            return
        except (OperationalError, InterfaceError):
            if connection.in_atomic_block or waited >= RECORD_RETRY_SECONDS:
                raise
            logger.warning("recording %s outcomes failed; retrying in %.1f s", len(outcomes), pause)
            # The connection may be dead (a restarted server): the next try opens a new one.
            connection.close()
            sleep(pause)
            waited += pause
            pause = min(pause * 2, 10.0)
