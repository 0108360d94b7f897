"""python manage.py import_orders FILE.csv [--lines LINES.csv] [--dry-run] [--rejects PATH]"""
from pathlib import Path

from ._import import ImportCommand


class Command(ImportCommand):
    kind = "orders"
    help = (
        "Create or update orders from a CSV file (external_id,customer_external_id,amount,"
        "currency,placed_at[,status]) and refresh the customers' order facts. Imported "
        "orders start no journeys. Their lines come from a second file, --lines "
        "LINES.csv (order_external_id,sku,quantity,price; one row per line, in any order), "
        "imported after the orders: an order takes the file's lines only if it has none "
        "yet, so importing again changes nothing. Bad rows, and lines of orders neither in "
        "the file nor stored, go to rejects files."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--lines", type=Path, default=None,
            help="A CSV of the orders' lines: order_external_id,sku,quantity,price (unit "
                 "price). Its rejects go next to it, as <name>.rejects.csv. In a dry run, "
                 "lines of orders that are only in the orders file are rejected as unknown.")

    def handle(self, *args, file: Path, lines: Path | None = None, **options):
        super().handle(*args, file=file, **options)
        if lines is not None:
            self.import_file("order_lines", lines, dry_run=options["dry_run"], rejects=None,
                             no_progress=options["no_progress"])
