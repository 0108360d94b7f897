"""Segment membership: the stored member list rewritten set-based, and who entered."""
import datetime as dt
import logging

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef

from campaigns import clock
from campaigns.models import Segment, SegmentMembership
from campaigns.segmentation import RuleError
from campaigns.selectors.segments import segment_customers

logger = logging.getLogger(__name__)


def segment_members_refresh(segment: Segment, now: dt.datetime | None = None) -> list[int]:
    """Rewrite the segment's memberships to match its rule at `now`; return who ENTERED.

    Set-based: one DELETE of the leavers (NOT EXISTS against the rule's query) and one
    INSERT … SELECT of the newcomers with `entered_at = now` (members who stay keep their
    entry time), then the cached count. Conflicts are ignored and the insert RETURNs only
    the rows it wrote, so two refreshes racing each other report each entry once. Raises
    segmentation.RuleError for a bad rule, before writing anything.
    """
    now = now or clock.now()
    members = segment_customers(segment, now)
    table = connection.ops.quote_name(SegmentMembership._meta.db_table)
    with transaction.atomic():
        # One refresh of a segment at a time (SQLite's IMMEDIATE transaction does this too).
        Segment.objects.select_for_update().filter(pk=segment.pk).values_list("pk").first()
        SegmentMembership.objects.filter(segment=segment).filter(
            ~Exists(members.filter(pk=OuterRef("customer_id")))
        ).delete()
        newcomers = members.filter(
            ~Exists(SegmentMembership.objects.filter(segment=segment, customer_id=OuterRef("pk")))
        ).order_by().annotate(member_id=F("pk")).values("member_id")
        select_sql, params = newcomers.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (segment_id, customer_id, entered_at) "
                f"SELECT %s, newcomer.member_id, %s FROM ({select_sql}) newcomer WHERE 1 = 1 "
                "ON CONFLICT DO NOTHING RETURNING customer_id",
                [segment.pk, connection.ops.adapt_datetimefield_value(now), *params],
            )
            entered = sorted(row[0] for row in cursor.fetchall())
        count = SegmentMembership.objects.filter(segment=segment).count()
        Segment.objects.filter(pk=segment.pk).update(member_count=count, counted_at=now)
    segment.member_count, segment.counted_at = count, now
    return entered


def segments_refresh_all(now: dt.datetime | None = None) -> dict[str, int]:
    """Refresh every segment (beat runs this every SEGMENT_REFRESH_MINUTES).

    Returns {segment name: customers who entered}. A segment whose stored rule no longer
    compiles (e.g. it names an attribute since deleted) is logged by id and skipped, so
    one bad rule does not hold up the others.
    """
    now = now or clock.now()
    entered = {}
    for segment in Segment.objects.order_by("id"):
        try:
            entered[segment.name] = len(segment_members_refresh(segment, now))
        except RuleError as exc:
            logger.warning("segment %s not refreshed: %s", segment.pk, exc)
    return entered
