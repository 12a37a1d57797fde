"""The reference shop of c5metrics.create_reference_schema(), as a Django
application models it: tables shop_<model>, bigint keys, varchar statuses,
types and idempotency key (CharField), numeric amounts (DecimalField),
foreign keys to the sale.

These are the models after the last migration.  The migrations are what
`manage.py makemigrations` generated from each step of their history:
0001 the initial models (the sale's status column named `status`, 20
characters; the refund model `Refund`, amounts of 12 digits); 0002 attaches
the tables to c5metrics; then the everyday changes test/t/021_django.pl
applies with c5metrics attached: 0003 RenameField status -> state, 0004
AlterField state to 40 characters (a longer status value), 0005 AlterField
Refund.amount to 14 digits, 0006 RenameModel Refund -> SaleRefund (table
shop_refund -> shop_salerefund), 0007 AddField Sale.channel.  The test
works with the historical models of each migration state, as data
migrations do."""
from django.db import models
from django.db.models import Q


class Product(models.Model):
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=12, decimal_places=2)


class StockLot(models.Model):
    product = models.ForeignKey(Product, on_delete=models.PROTECT)
    expires_on = models.DateField()
    quantity_on_hand = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=['product', 'expires_on', 'id'], name='shop_lot_fefo')]


class Sale(models.Model):
    STATUSES = [
        ('draft', 'Draft'),
        ('pending', 'Pending'),
        ('paid', 'Paid'),
        ('cancelled', 'Cancelled'),
        ('refunded', 'Refunded'),
        ('partially_refunded', 'Partially refunded'),
        ('awaiting_payment_confirmation', 'Awaiting payment confirmation'),
    ]
    state = models.CharField(max_length=40, choices=STATUSES, default='pending')
    total = models.DecimalField(max_digits=12, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    channel = models.CharField(max_length=20, default='web')


class SaleItem(models.Model):
    sale = models.ForeignKey(Sale, on_delete=models.CASCADE, related_name='items')
    product = models.ForeignKey(Product, on_delete=models.PROTECT)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)


class StockMovement(models.Model):
    TYPES = [
        ('consume', 'Consume'),
        ('refund_in', 'Refund in'),
        ('receive', 'Receive'),
        ('adjust', 'Adjust'),
    ]
    movement_type = models.CharField(max_length=16, choices=TYPES)
    product = models.ForeignKey(Product, on_delete=models.PROTECT)
    lot = models.ForeignKey(StockLot, on_delete=models.PROTECT, null=True, blank=True)
    sale = models.ForeignKey(Sale, on_delete=models.PROTECT, null=True, blank=True)
    quantity = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)


class SaleRefund(models.Model):
    TYPES = [('full', 'Full'), ('partial', 'Partial')]
    sale = models.ForeignKey(Sale, on_delete=models.PROTECT, related_name='refunds')
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    refund_type = models.CharField(max_length=16, choices=TYPES)
    idempotency_key = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(check=Q(amount__gt=0), name='shop_refund_amount_positive'),
        ]


class Lead(models.Model):
    email = models.EmailField()
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    name = models.CharField(max_length=100, blank=True)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
