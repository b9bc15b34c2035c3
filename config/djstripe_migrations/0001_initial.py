"""dj-stripe 2.11's own migration 0001_initial, unchanged."""

from importlib import import_module

Migration = import_module("djstripe.migrations.0001_initial").Migration
