"""Data versions: a token per cached family of tables, changed by triggers on every write
(selectors/catalogue.py keeps the send path's per-process catalogue cache by them); and
an index of the few orders that are not placed, by customer (recommendations' lines)."""
from django.db import migrations, models

# (token name, table): the catalogue, and the nightly lists recommendations are drawn from.
WATCHED = (("catalogue", "campaigns_product"), ("lists", "campaigns_productpair"),
           ("lists", "campaigns_topseller"))


def triggers_create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    execute = schema_editor.execute
    if vendor == "postgresql":
        # A sequence: a token is never given twice, even by a write that is rolled back.
        execute("CREATE SEQUENCE campaigns_dataversion_token")
        execute("""
            CREATE FUNCTION campaigns_dataversion_bump() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO campaigns_dataversion (name, token)
                VALUES (TG_ARGV[0], nextval('campaigns_dataversion_token'))
                ON CONFLICT (name) DO UPDATE SET token = EXCLUDED.token;
                RETURN NULL;
            END $$""")
        execute("INSERT INTO campaigns_dataversion (name, token) VALUES "
                "('catalogue', nextval('campaigns_dataversion_token')), "
                "('lists', nextval('campaigns_dataversion_token'))")
        for name, table in WATCHED:
            # Once per statement, however many rows it writes.
            execute(f"CREATE TRIGGER {table}_version AFTER INSERT OR UPDATE OR DELETE OR "
                    f"TRUNCATE ON {table} FOR EACH STATEMENT "
                    f"EXECUTE PROCEDURE campaigns_dataversion_bump('{name}')")
    elif vendor == "sqlite":
        # SQLite has row triggers only; random() gives a 64-bit token.
        execute("INSERT INTO campaigns_dataversion (name, token) VALUES "
                "('catalogue', random()), ('lists', random())")
        for name, table in WATCHED:
            for event in ("INSERT", "UPDATE", "DELETE"):
                execute(f"CREATE TRIGGER {table}_version_{event.lower()} AFTER {event} ON "
                        f"{table} BEGIN INSERT OR REPLACE INTO campaigns_dataversion "
                        f"(name, token) VALUES ('{name}', random()); END")
    else:
        raise NotImplementedError(f"data version triggers for {vendor}")


def triggers_drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    execute = schema_editor.execute
    if vendor == "postgresql":
        for _, table in WATCHED:
            execute(f"DROP TRIGGER IF EXISTS {table}_version ON {table}")
        execute("DROP FUNCTION IF EXISTS campaigns_dataversion_bump()")
        execute("DROP SEQUENCE IF EXISTS campaigns_dataversion_token")
    elif vendor == "sqlite":
        for _, table in WATCHED:
            for event in ("insert", "update", "delete"):
                execute(f"DROP TRIGGER IF EXISTS {table}_version_{event}")


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0038_referral_rewards'),
    ]

    operations = [
        migrations.CreateModel(
            name='DataVersion',
            fields=[
                ('name', models.CharField(max_length=32, primary_key=True, serialize=False, verbose_name='name')),
                ('token', models.BigIntegerField(verbose_name='token')),
            ],
            options={
                'verbose_name': 'data version',
                'verbose_name_plural': 'data versions',
            },
        ),
        migrations.RunPython(triggers_create, triggers_drop),
        migrations.AddIndex(
            model_name='order',
            index=models.Index(condition=models.Q(('status', 'placed'), _negated=True), fields=['customer'], name='order_not_placed_customer'),
        ),
    ]
