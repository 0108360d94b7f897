"""Thin Celery wrappers: look up, call one service, decide retry. Arguments are ids only."""
import logging
import math

from anymail.exceptions import AnymailAPIError
from celery import shared_task
from django.conf import settings
from django.db import OperationalError, transaction
from kombu.exceptions import OperationalError as BrokerUnreachable

from campaigns import clock
from campaigns.services.best_hour import best_hours_learn
from campaigns.services.deliverability import (
    message_event_fail, message_event_process as message_event_apply, message_events_unprocessed,
)
from campaigns.services.forecast import forecast_job_run
from campaigns.services.gdpr import privacy_export_email, privacy_exports_unsent
from campaigns.services.import_jobs import import_job_run
from campaigns.services.loyalty import loyalty_nightly as loyalty_nightly_run
from campaigns.services.recommendations import recommendations_compute as recommendations_run
from campaigns.services.reorder import reorder_intervals_learn as reorder_intervals_learn_run
from campaigns.services.retention import retention_purge as retention_purge_run
from campaigns.services.rfm import customers_score
from campaigns.services.scheduling import scheduler_tick
from campaigns.services.segments import segments_refresh_all
from campaigns.services.snapshots import metric_snapshots_build
from campaigns.services.sending import messages_send_due
from campaigns.services.subscriptions import (
    subscription_confirmation_send as confirmation_send, subscription_confirmations_unsent,
)

logger = logging.getLogger(__name__)


def queue_on_commit(task, *args) -> None:
    """Queue `task(*args)` once the current transaction commits, for work whose row is its
    own outbox: with the broker down nothing is raised (the visitor still gets their
    answer), and `public_requests_sweep` queues it again from the database later. One try
    only: kombu's connection and publish retries would hold the request for seconds."""

    def publish():
        try:
            if task.app.conf.task_always_eager:
                task.apply_async(args)
                return
            with task.app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=0)
                task.apply_async(args, connection=connection, retry=False)
        except (BrokerUnreachable, OSError) as error:
            logger.warning("%s not queued (%s); the sweep will queue it",
                           task.name, type(error).__name__)

    transaction.on_commit(publish)


@shared_task(name="campaigns.tick", ignore_result=True)
def tick() -> dict:
    """Beat's heartbeat: plan and advance, then queue send tasks for what is due.

    Each send task claims its own groups and keeps sending for up to one tick interval;
    one not started within that interval has expired (the next tick queues afresh), so
    the queue never piles up behind a slow provider.
    """
    report = scheduler_tick(now=clock.now())
    tasks = min(settings.SEND_TASKS_PER_TICK, math.ceil(report.due / settings.SEND_BATCH_SIZE))
    for _ in range(tasks):
        send_due.apply_async(expires=settings.TICK_SECONDS)
    summary = {
        "enrolled": report.enrolled, "advanced": report.advanced,
        "messages_created": report.messages_created, "due": report.due, "send_tasks": tasks,
        "released": report.released, "unknown": report.unknown, "exited": report.exited,
    }
    logger.info("tick %s", summary)
    return summary


@shared_task(
    name="campaigns.send_due", ignore_result=True,
    autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5,
)
def send_due() -> dict:
    """Send what is due, group by group, for up to 90 % of a tick interval."""
    report = messages_send_due(max_seconds=settings.TICK_SECONDS * 0.9)
    summary = {k: v for k, v in report.__dict__.items() if isinstance(v, int)}
    if report.claimed:
        logger.info("send_due %s", summary)
    return summary


@shared_task(name="campaigns.send_batch", ignore_result=True)
def send_batch(message_ids: list[int]) -> dict:
    """Kept for tasks queued before an upgrade: their rows are claimed the old way and go
    back to pending when their lease runs out; meanwhile this sends whatever is due."""
    return send_due()


@shared_task(name="campaigns.segments_refresh", ignore_result=True)
def segments_refresh() -> dict:
    """Rewrite every segment's members; entries start segment-entry journeys next tick."""
    entered = segments_refresh_all(now=clock.now())
    logger.info("segments refreshed: %s entered", sum(entered.values()))
    return entered


@shared_task(
    name="campaigns.score_customers", ignore_result=True,
    autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3,
)
def score_customers() -> dict:
    """Nightly (and on demand): RFM scores, lifecycle stages and best hours for every
    customer."""
    now = clock.now()
    report = customers_score(now=now)
    hours = best_hours_learn(now=now)
    summary = {"customers": report.customers, "with_orders": report.with_orders,
               "stage_changes": report.stage_changes, "events": report.events,
               "with_best_hour": hours.with_hour, "best_hours_changed": hours.updated}
    logger.info("score_customers %s", summary)
    return summary


@shared_task(
    name="campaigns.reorder_intervals_learn", ignore_result=True,
    autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3,
)
def reorder_intervals_learn() -> dict:
    """Nightly: each product's typical reorder interval from the order history."""
    changed = reorder_intervals_learn_run(now=clock.now())
    logger.info("reorder_intervals_learn %s", {"changed": changed})
    return {"changed": changed}


@shared_task(name="campaigns.import_job", ignore_result=True)
def import_job(job_id: int) -> None:
    """Run one CSV import started from the admin (the job row holds file and progress)."""
    import_job_run(job_id=job_id)


@shared_task(
    name="campaigns.message_event_process", bind=True, ignore_result=True,
    autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5,
)
def message_event_process(self, event_id: int) -> str:
    """Apply one stored provider event. Anything but a database hiccup marks that event
    failed (shown in the admin) instead of raising: one bad event stops nothing else."""
    try:
        return message_event_apply(event_id=event_id)
    except OperationalError:
        raise
    except Exception as error:  # noqa: BLE001 - one event must not poison the queue
        logger.exception("provider event %s could not be applied", event_id)
        message_event_fail(event_id=event_id, error=error)
        return "error"


@shared_task(name="campaigns.message_events_sweep", ignore_result=True)
def message_events_sweep() -> int:
    """Queue again the provider events whose processing task was lost."""
    ids = message_events_unprocessed(now=clock.now())
    for event_id in ids:
        message_event_process.delay(event_id)
    if ids:
        logger.info("message_events_sweep queued %s events again", len(ids))
    return len(ids)


@shared_task(name="campaigns.public_requests_sweep", ignore_result=True)
def public_requests_sweep() -> dict:
    """Queue again the confirmation emails and privacy exports asked for on the public pages
    whose task never reached the broker (or was lost): the request rows are the outbox."""
    now = clock.now()
    confirmations = subscription_confirmations_unsent(now=now)
    exports = privacy_exports_unsent(now=now)
    for request_id in confirmations:
        subscription_confirmation_send.delay(request_id)
    for request_id in exports:
        privacy_export_send.delay(request_id)
    summary = {"confirmations": len(confirmations), "exports": len(exports)}
    if confirmations or exports:
        logger.info("public_requests_sweep queued %s", summary)
    return summary


@shared_task(
    name="campaigns.privacy_export_send", ignore_result=True,
    autoretry_for=(OperationalError, AnymailAPIError, OSError), retry_backoff=True, max_retries=5,
)
def privacy_export_send(privacy_request_id: int) -> bool:
    """Email a customer the export they asked for (the request row names the customer)."""
    return privacy_export_email(request_id=privacy_request_id)


@shared_task(
    name="campaigns.retention_purge", ignore_result=True,
    autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3,
)
def retention_purge() -> dict:
    """Nightly: delete or anonymise whatever is past its retention period."""
    return retention_purge_run(now=clock.now())


@shared_task(
    name="campaigns.subscription_confirmation_send", ignore_result=True,
    autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5,
)
def subscription_confirmation_send(request_id: int) -> bool:
    """The double opt-in confirmation email of one subscription request (sent once)."""
    return confirmation_send(request_id=request_id)


@shared_task(
    name="campaigns.loyalty_nightly", ignore_result=True,
    autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3,
)
def loyalty_nightly() -> dict:
    """Nightly: expire old points (FIFO), recompute tiers, emit points.expiring events."""
    summary = loyalty_nightly_run(now=clock.now())
    logger.info("loyalty_nightly %s", summary)
    return summary


@shared_task(
    name="campaigns.metric_snapshots", ignore_result=True,
    autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3,
)
def metric_snapshots() -> dict:
    """Nightly: snapshot the dashboard's numbers for the closed days (and the trailing window)."""
    summary = metric_snapshots_build(now=clock.now())
    logger.info("metric_snapshots %s", summary)
    return summary


@shared_task(
    name="campaigns.recommendations_compute", ignore_result=True,
    autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3,
)
def recommendations_compute() -> dict:
    """Nightly: rewrite "bought together" and the top sellers from the order lines."""
    counts = recommendations_run(now=clock.now())
    return {"pairs": counts.pairs, "top_sellers": counts.top_sellers}


@shared_task(name="campaigns.forecast", ignore_result=True)
def forecast(job_id: int) -> None:
    """Run one forecast started from the admin (the job row holds progress and answer)."""
    forecast_job_run(job_id=job_id)
