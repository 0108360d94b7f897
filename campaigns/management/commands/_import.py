"""What the import commands share: arguments, progress bar, summary."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from campaigns.services.imports import ImportRefused, ImportStopped, RejectsWriter, import_run


class ImportCommand(BaseCommand):
    kind = ""

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="The CSV file (UTF-8, header line first).")
        parser.add_argument("--dry-run", action="store_true",
                            help="Check every row and report; write nothing to the database.")
        parser.add_argument("--rejects", type=Path, default=None,
                            help="Where to write the rejected rows (default: next to the "
                                 "file, as <name>.rejects.csv).")
        parser.add_argument("--no-progress", action="store_true",
                            help="No progress bar on stderr.")

    def handle(self, *args, file: Path, dry_run: bool, rejects: Path | None,
               no_progress: bool, **options):
        self.import_file(self.kind, file, dry_run=dry_run, rejects=rejects,
                         no_progress=no_progress)

    def import_file(self, kind: str, file: Path, *, dry_run: bool, rejects: Path | None,
                    no_progress: bool):
        if not file.is_file():
            raise CommandError(f"No such file: {file}")
        rejects_path = rejects or file.with_name(f"{file.stem}.rejects.csv")
        if rejects_path.resolve() == file.resolve():
            raise CommandError("The rejects file must not be the file being imported.")
        rejects_path.unlink(missing_ok=True)  # A stale one from an earlier run would mislead.
        writer = RejectsWriter(rejects_path)
        size = file.stat().st_size
        bar = tqdm(total=size, unit="B", unit_scale=True, disable=no_progress or None,
                   desc=f"{kind} {file.name}", file=self.stderr._out)

        def progress(report):
            bar.update(report.bytes_done - bar.n)
            bar.set_postfix(rows=report.rows, rejected=report.rejected, refresh=False)

        try:
            with open(file, "rb") as stream:
                report = import_run(kind=kind, stream=stream, rejects=writer,
                                    dry_run=dry_run, bytes_total=size, progress=progress)
        except ImportRefused as exc:
            raise CommandError(f"{file}: refused, nothing was imported. {exc}") from exc
        except ImportStopped as exc:
            self.stdout.write(exc.report.summary())
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        self.stdout.write(report.summary())
        if writer.count:
            self.stdout.write(f"rejected rows, with the reason for each: {rejects_path}")
