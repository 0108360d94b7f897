"""The database cache's table (django_cache), where the public pages' rate limits live on
the embedded default. Made whatever the cache setting, so a site can move from Redis to
the database cache without another step; Django's own `createcachetable` builds it."""
from django.core.management.commands.createcachetable import Command as CacheTableCommand
from django.db import migrations

TABLE = "django_cache"


def cache_table_create(apps, schema_editor):
    # Skips a table that exists (a site that ran `createcachetable` itself).
    command = CacheTableCommand()
    command.verbosity = 0
    command.create_table(schema_editor.connection.alias, TABLE, dry_run=False)


def cache_table_drop(apps, schema_editor):
    schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(TABLE)}")


class Migration(migrations.Migration):

    dependencies = [("campaigns", "0016_send_path")]

    operations = [migrations.RunPython(cache_table_create, cache_table_drop)]
