"""The triggers that give `DataVersion` a new token on every write to a cached table
(selectors/catalogue.py), made again after every migrate on SQLite.

Migration 0035 creates them. On SQLite a later migration that alters one of these tables
rebuilds it (a new table copied and renamed), which drops its triggers without a word:
the cache would then never see a change. So after every migrate the missing ones are
created again (`CREATE TRIGGER IF NOT EXISTS`). PostgreSQL alters tables in place and
keeps them; tests/selectors/test_catalogue_cache.py checks every write on both."""
from django.db import DEFAULT_DB_ALIAS, connections

# (token name, table); the same as migration 0035's.
WATCHED = (("catalogue", "campaigns_product"), ("lists", "campaigns_productpair"),
           ("lists", "campaigns_topseller"))


def data_version_triggers_ensure(*, using: str = DEFAULT_DB_ALIAS) -> None:
    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        if "campaigns_dataversion" not in tables:
            return  # before migration 0035
        for name, table in WATCHED:
            if table not in tables:
                continue
            for event in ("INSERT", "UPDATE", "DELETE"):
                cursor.execute(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_version_{event.lower()} AFTER "
                    f"{event} ON {table} BEGIN INSERT OR REPLACE INTO campaigns_dataversion "
                    f"(name, token) VALUES ('{name}', random()); END")


def data_version_triggers_after_migrate(sender, using=DEFAULT_DB_ALIAS, **kwargs) -> None:
    data_version_triggers_ensure(using=using)
