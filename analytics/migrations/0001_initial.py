import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="DailyMetric",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),
                ("date", models.DateField()),
                ("metric", models.CharField(max_length=64)),
                ("dimension", models.CharField(blank=True, default="", max_length=64)),
                ("value", models.DecimalField(decimal_places=6, max_digits=24)),
                ("metadata", models.JSONField(blank=True, default=dict)),
                ("definition_version", models.PositiveIntegerField()),
                ("computed_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "ordering": ["date", "metric", "dimension"],
                "indexes": [
                    models.Index(fields=["metric", "dimension", "date"],
                                 name="analytics_metric_dim_date"),
                    models.Index(fields=["metric", "date"], name="analytics_metric_date"),
                ],
                "constraints": [
                    models.UniqueConstraint(fields=("date", "metric", "dimension"),
                                            name="analytics_dailymetric_unique_day"),
                ],
            },
        ),
        migrations.CreateModel(
            name="Dashboard",
            fields=[],
            options={
                "verbose_name": "dashboard",
                "verbose_name_plural": "dashboard",
                "proxy": True,
                "indexes": [],
                "constraints": [],
            },
            bases=("analytics.dailymetric",),
        ),
    ]
