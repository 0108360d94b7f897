"""CSV imports started from the admin: run the job's file, save progress and outcome."""
import os
import tempfile
from pathlib import Path

from django.core.files import File

from campaigns import clock
from campaigns.models import ImportJob
from campaigns.services.imports import (
    ImportRefused, ImportReport, ImportStopped, RejectsWriter, import_run,
)


def import_job_run(*, job_id: int) -> ImportReport | None:
    """Run an ImportJob from the admin: progress saved after every chunk, then the outcome.

    Only a pending job starts (a conditional update), so a redelivered task does not run
    it twice. A refused file ends as `failed` with the reason in `error`; an unexpected
    error too, with what was committed before it, and is raised again for the worker's log.
    """
    started = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.PENDING).update(
        status=ImportJob.Status.RUNNING, started_at=clock.now())
    if not started:
        return None
    job = ImportJob.objects.get(pk=job_id)
    jobs = ImportJob.objects.filter(pk=job_id)

    def progress(report: ImportReport) -> None:
        jobs.update(bytes_done=report.bytes_done, bytes_total=report.bytes_total,
                    rows_done=report.rows,
                    created=report.created, updated=report.updated,
                    unchanged=report.unchanged, rejected=report.rejected)

    handle, name = tempfile.mkstemp(prefix=f"import-{job_id}-", suffix=".csv")
    os.close(handle)
    rejects_path = Path(name)
    rejects = RejectsWriter(rejects_path)
    report = None
    try:
        with job.file.open("rb") as stream:
            report = import_run(kind=job.kind, stream=stream, rejects=rejects,
                                dry_run=job.dry_run, bytes_total=job.file.size,
                                progress=progress)
    except ImportRefused as exc:
        jobs.update(status=ImportJob.Status.FAILED, error=str(exc), finished_at=clock.now())
        return None
    except ImportStopped as exc:
        progress(exc.report)
        jobs.update(status=ImportJob.Status.FAILED, error=str(exc),
                    summary=exc.report.summary(), finished_at=clock.now())
        raise
    finally:
        if rejects.count:
            with open(rejects_path, "rb") as f:
                job.rejects_file.save(f"import-{job_id}-rejects.csv", File(f), save=False)
            jobs.update(rejects_file=job.rejects_file.name)
        rejects_path.unlink(missing_ok=True)
    progress(report)
    jobs.update(status=ImportJob.Status.DONE, summary=report.summary(), finished_at=clock.now())
    return report
