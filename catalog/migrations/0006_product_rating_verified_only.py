"""The product's rating figures count only verified reviews (by customers who paid)."""

from django.db import migrations

RECOMPUTE = """
    UPDATE catalog_product AS p
    SET rating_count = coalesce(r.n, 0), rating_average = r.average
    FROM catalog_product AS q
    LEFT JOIN (SELECT product_id, count(*) AS n, avg(rating)::double precision AS average
               FROM catalog_review WHERE verified GROUP BY product_id) AS r
           ON r.product_id = q.id
    WHERE q.id = p.id
      AND (p.rating_count IS DISTINCT FROM coalesce(r.n, 0)
           OR p.rating_average IS DISTINCT FROM r.average)
"""

ALL_REVIEWS = """
    UPDATE catalog_product AS p
    SET rating_count = coalesce(r.n, 0), rating_average = r.average
    FROM catalog_product AS q
    LEFT JOIN (SELECT product_id, count(*) AS n, avg(rating)::double precision AS average
               FROM catalog_review GROUP BY product_id) AS r
           ON r.product_id = q.id
    WHERE q.id = p.id
"""


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0005_product_rating_figures"),
    ]

    operations = [
        migrations.RunSQL(RECOMPUTE, reverse_sql=ALL_REVIEWS),
    ]
