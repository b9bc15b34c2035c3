import factory
from allauth.account.models import EmailAddress
from django.utils import timezone

from accounts.models import ApiKey, LoginSession, Role, StoredFile, User
from core.models import AuditLog, SystemConfig

TEST_PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    role = Role.CUSTOMER
    email_verified = True
    email_verified_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def password(obj, create, extracted, **kwargs):
        obj.set_password(extracted or TEST_PASSWORD)
        if create:
            obj.save(update_fields=["password"])

    @factory.post_generation
    def verified_address(obj, create, extracted, **kwargs):
        # allauth keeps its own verified-address row; without it, mandatory verification
        # would send every factory user to the "verify your e-mail" page.
        if create and obj.email_verified:
            EmailAddress.objects.get_or_create(
                user=obj, email=obj.email, defaults={"verified": True, "primary": True}
            )


class StaffFactory(UserFactory):
    role = Role.SUPPORT


class FinanceFactory(UserFactory):
    role = Role.FINANCE


class AdminFactory(UserFactory):
    role = Role.ADMIN


class LoginSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LoginSession

    user = factory.SubFactory(UserFactory)
    session_key = factory.Sequence(lambda n: f"session{n:032d}")
    ip_address = "127.0.0.1"
    user_agent = "pytest"
    expires_at = factory.LazyFunction(lambda: timezone.now() + timezone.timedelta(days=14))


class ApiKeyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ApiKey

    user = factory.SubFactory(UserFactory)
    name = "test key"
    prefix = factory.Sequence(lambda n: f"{n:08x}")
    hashed_key = factory.Sequence(lambda n: f"{n:064x}")


class AuditLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuditLog

    action = "OTHER"
    resource_type = "test"
    resource_id = "1"


class SystemConfigFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SystemConfig

    key = "business_name"
    value = "Factory Co"


class StoredFileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StoredFile

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"file{n}.pdf")
    content_type = "application/pdf"
    size_bytes = 1024
