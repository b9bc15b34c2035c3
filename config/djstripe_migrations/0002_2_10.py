"""dj-stripe 2.11's own migration 0002_2_10, unchanged."""

from importlib import import_module

Migration = import_module("djstripe.migrations.0002_2_10").Migration
