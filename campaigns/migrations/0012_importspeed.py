# Fewer indexes to maintain on the tables a bulk import writes (issue 4, import speed):
# no varchar_pattern_ops twins for external ids, email and lifecycle stage (unique and
# plain indexes through Meta instead), no foreign-key index that a composite index with
# the same leading column already covers.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0011_dashboard'),
    ]

    operations = [
        migrations.AlterField(
            model_name='consentevent',
            name='customer',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='consent_events', to='campaigns.customer'),
        ),
        migrations.AlterField(
            model_name='customer',
            name='email',
            field=models.EmailField(max_length=254),
        ),
        migrations.AlterField(
            model_name='customer',
            name='external_id',
            field=models.CharField(help_text="The shop's id.", max_length=100),
        ),
        migrations.AlterField(
            model_name='customer',
            name='lifecycle_stage',
            field=models.CharField(blank=True, choices=[('prospect', 'Prospect (no order yet)'), ('new', 'New'), ('active', 'Active'), ('loyal', 'Loyal'), ('at_risk', 'At risk'), ('lapsed', 'Lapsed'), ('won_back', 'Won back')], max_length=16),
        ),
        migrations.AlterField(
            model_name='order',
            name='customer',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='orders', to='campaigns.customer'),
        ),
        migrations.AlterField(
            model_name='order',
            name='external_id',
            field=models.CharField(max_length=100),
        ),
        migrations.AlterField(
            model_name='subscription',
            name='customer',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='subscriptions', to='campaigns.customer'),
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(fields=['email'], name='customer_email'),
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(fields=['lifecycle_stage'], name='customer_lifecycle_stage'),
        ),
        migrations.AddConstraint(
            model_name='customer',
            constraint=models.UniqueConstraint(fields=('external_id',), name='customer_external_id_unique'),
        ),
        migrations.AddConstraint(
            model_name='order',
            constraint=models.UniqueConstraint(fields=('external_id',), name='order_external_id_unique'),
        ),
    ]
