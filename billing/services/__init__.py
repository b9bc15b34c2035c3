"""Billing's writes. Import the function you need from its module, e.g.
``from billing.services.checkout import checkout``."""
