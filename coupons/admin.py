from django.contrib import admin

from coupons.models import CouponDuration


@admin.register(CouponDuration)
class CouponDurationAdmin(admin.ModelAdmin):
    list_display = ["discount", "duration", "duration_in_months", "updated_at"]
    list_filter = ["duration"]
    search_fields = ["discount__code"]
    autocomplete_fields = ["discount"]
