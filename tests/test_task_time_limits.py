"""Celery tasks have time limits: every task a soft and a hard one, the long ones their own."""
from django.conf import settings

from loyaltycrm.celery import app


def limits(name: str) -> tuple[int, int]:
    task = app.tasks[name]
    return (task.soft_time_limit or app.conf.task_soft_time_limit,
            task.time_limit or app.conf.task_time_limit)


def test_every_task_has_a_soft_limit_before_its_hard_one():
    app.loader.import_default_modules()
    names = [name for name in app.tasks if name.startswith("campaigns.")]

    assert len(names) > 10
    for name in names:
        soft, hard = limits(name)
        assert 0 < soft < hard, name


def test_the_send_task_may_finish_its_tick_and_record_through_a_short_outage():
    soft, hard = limits("campaigns.send_due")

    assert soft >= settings.TICK_SECONDS * 0.9 + 300  # record.RECORD_RETRY_SECONDS
    assert limits("campaigns.send_batch") == (soft, hard)


def test_imports_and_nightly_jobs_may_run_longer_than_other_tasks():
    assert limits("campaigns.import_job")[0] > limits("campaigns.tick")[0]
    assert limits("campaigns.segments_refresh")[0] >= 3600
    assert limits("campaigns.privacy_export_send")[0] >= 3600
