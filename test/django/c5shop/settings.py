"""Settings of the c5metrics test shop: one app, one PostgreSQL database.

The database is the one the TAP test (test/t/021_django.pl) starts: libpq's
PGHOST and PGPORT name it, C5_DJANGO_DB the database, PGUSER the role
(empty: the operating-system user, as libpq does).
"""
import os

SECRET_KEY = 'c5metrics-test-shop-not-secret'
DEBUG = False
ALLOWED_HOSTS = []
INSTALLED_APPS = ['shop']
DATABASES = {
    'default': {
        'ENGINE': 'django.db.backends.postgresql',
        'NAME': os.environ.get('C5_DJANGO_DB', 'djshop'),
        'USER': os.environ.get('PGUSER', ''),
        'HOST': os.environ.get('PGHOST', ''),
        'PORT': os.environ.get('PGPORT', ''),
        'CONN_MAX_AGE': 0,
    },
}
DEFAULT_AUTO_FIELD = 'django.db.models.BigAutoField'
USE_TZ = True
TIME_ZONE = 'UTC'
