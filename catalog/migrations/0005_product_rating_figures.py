"""Each product keeps its reviews' count and average, so lists read them from the row."""

from django.db import migrations, models

BACKFILL = """
    UPDATE catalog_product AS p
    SET rating_count = r.n, rating_average = r.average
    FROM (SELECT product_id, count(*) AS n, avg(rating)::double precision AS average
          FROM catalog_review GROUP BY product_id) AS r
    WHERE r.product_id = p.id
"""


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0003_finance_role'),
        ('catalog', '0004_review_votes'),
    ]

    operations = [
        migrations.AddField(
            model_name='product',
            name='rating_average',
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='product',
            name='rating_count',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop),
        migrations.AddConstraint(
            model_name='product',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('rating_average__isnull', True), ('rating_count', 0)), models.Q(('rating_average__gte', 1), ('rating_average__lte', 5), ('rating_count__gt', 0)), _connector='OR'), name='product_rating_figures'),
        ),
    ]
