"""dj-stripe's migrations, as this project applies them (settings.MIGRATION_MODULES)."""
