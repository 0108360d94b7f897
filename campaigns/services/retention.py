"""The nightly purge: delete or anonymise what is past its period in campaigns/retention.py."""
import logging

from django.apps import apps
from django.db import transaction
from django.db.models import Exists, OuterRef

from campaigns.models import ConsentEvent, Customer, Event, ImportJob, Order
from campaigns.retention import RETENTION, Action, retention_cutoff
from campaigns.services.gdpr import customers_erase

logger = logging.getLogger(__name__)

# Rows per statement, so one night's first run on a big base does not hold locks for long.
CHUNK = 5000


def retention_purge(*, now) -> dict[str, int]:
    """Apply every retention rule once; return the rows deleted or anonymised per rule.

    Set-based, in chunks of ids, each chunk its own transaction. Running it twice at the
    same moment changes nothing the second time.
    """
    report = {}
    for name, rule in RETENTION.items():
        if rule.action in (Action.KEEP, Action.WITH_CUSTOMER):
            continue
        cutoff = retention_cutoff(name, now=now)
        if cutoff is None:
            continue
        model = apps.get_model(rule.model)
        if rule.action == Action.ERASE_INACTIVE:
            report[name] = _inactive_customers_erase(cutoff)
            continue
        old = model.objects.filter(**{f"{rule.field}__lt": cutoff})
        if rule.action == Action.ANONYMISE:
            blank = dict(rule.blank)
            # Rows already blank are left alone: a second run writes nothing.
            pending = old.exclude(**blank)
            report[name] = _chunked(pending, lambda qs: qs.update(**blank))
        elif model is ImportJob:
            report[name] = _chunked(old, _imports_delete)
        else:
            report[name] = _chunked(old, lambda qs: qs.delete()[0])
    logger.info("retention purge %s", report)
    return report


def _chunked(queryset, apply) -> int:
    done = 0
    while True:
        ids = list(queryset.order_by("pk").values_list("pk", flat=True)[:CHUNK])
        if not ids:
            return done
        with transaction.atomic():
            done += apply(queryset.model.objects.filter(pk__in=ids))
        if len(ids) < CHUNK:
            return done


def _imports_delete(queryset) -> int:
    for job in queryset:
        for field in (job.file, job.rejects_file):
            if field:
                field.delete(save=False)
    return queryset.delete()[0]


def _inactive_customers_erase(cutoff) -> int:
    """Customers with no order ever, and neither an event nor a profile update from the
    shop since the cutoff.

    They are anonymised like an erasure. Their address is suppressed only if they had
    withdrawn marketing consent, so their "no" outlives them; the others may come back.
    """
    candidates = Customer.objects.filter(
        erased_at__isnull=True, created_at__lt=cutoff, updated_at__lt=cutoff, order_count=0,
    ).exclude(Exists(Order.objects.filter(customer=OuterRef("pk")))).exclude(
        Exists(Event.objects.filter(customer=OuterRef("pk"), occurred_at__gte=cutoff)))
    erased = 0
    while True:
        ids = list(candidates.order_by("pk").values_list("pk", flat=True)[:CHUNK // 10])
        if not ids:
            return erased
        said_no = set(
            Customer.objects.filter(pk__in=ids, marketing_consent=False).filter(
                Exists(ConsentEvent.objects.filter(customer=OuterRef("pk"), granted=False))
            ).values_list("pk", flat=True)
        )
        erased += len(customers_erase(customer_ids=ids, actor="retention", suppress_ids=said_no))
