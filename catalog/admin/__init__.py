"""Staff console for the catalog.

Status, featuring, duplication and deletion of products go through ``catalog.services``
(actions), so they are audited and ``published_at`` stays right; plain edits are audited here.

One module per topic: products (with categories), prices (with variants and tiers), the
storefront (collections, plans, reviews); ``common`` holds the audited base admin. Importing
this package registers them all.
"""

from catalog.admin import prices, products, storefront  # noqa: F401 - each module registers its model admins
