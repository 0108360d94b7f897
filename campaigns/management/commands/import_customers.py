"""python manage.py import_customers FILE.csv [--dry-run] [--rejects PATH]"""
from ._import import ImportCommand


class Command(ImportCommand):
    kind = "customers"
    help = (
        "Create or update customers from a CSV file with the API's field names "
        "(external_id,email,first_name,last_name,locale,time_zone,country,signed_up_at,"
        "marketing_consent,marketing_consent_at,…); any further column is a custom "
        "attribute. Bad rows go to a rejects file; importing the file again changes nothing."
    )
