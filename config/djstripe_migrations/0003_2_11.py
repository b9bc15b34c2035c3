"""dj-stripe 2.11's own migration 0003_2_11, unchanged."""

from importlib import import_module

Migration = import_module("djstripe.migrations.0003_2_11").Migration
