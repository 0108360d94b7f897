"""python manage.py import_orders FILE.csv [--dry-run] [--rejects PATH]"""
from ._import import ImportCommand


class Command(ImportCommand):
    kind = "orders"
    help = (
        "Create or update orders from a CSV file (external_id,customer_external_id,amount,"
        "currency,placed_at[,status]) and refresh the customers' order facts. Imported "
        "orders start no journeys. Bad rows go to a rejects file."
    )
