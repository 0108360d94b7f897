"""python manage.py import_products FILE.csv [--dry-run] [--rejects PATH]"""
from ._import import ImportCommand


class Command(ImportCommand):
    kind = "products"
    help = (
        "Create or update products by SKU from a CSV file with the API's field names "
        "(sku,name,url,image_url,price,currency,category,brand,in_stock,reorder_days; only "
        "sku and name are required), name_<language> columns for the name per language "
        "(name_sv, name_nb) and attr_<key> columns for free attributes (stored as text). "
        "An empty cell keeps the stored value. Order and cart lines waiting for a SKU are "
        "linked. Bad rows go to a rejects file; importing the file again changes nothing."
    )
