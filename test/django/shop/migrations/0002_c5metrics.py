# Attach the shop's tables to c5metrics, as a Django project would: a
# migration of its own (a DBA ran CREATE EXTENSION c5metrics beforehand).
# Reversing it detaches them.

from django.db import migrations

ATTACH = """
SELECT c5metrics.track_sales('shop_sale');
SELECT c5metrics.track_stock('shop_stockmovement', refunds_table => 'shop_refund');
SELECT c5metrics.track_refunds('shop_refund', sales_table => 'shop_sale');
SELECT c5metrics.track_leads('shop_lead');
"""

DETACH = """
SELECT c5metrics.untrack('shop_lead');
SELECT c5metrics.untrack('shop_refund');
SELECT c5metrics.untrack('shop_stockmovement');
SELECT c5metrics.untrack('shop_sale');
"""


class Migration(migrations.Migration):

    dependencies = [
        ('shop', '0001_initial'),
    ]

    operations = [
        migrations.RunSQL(ATTACH, DETACH),
    ]
