from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from apps.accounts.forms import AdminLoginForm
from apps.accounts.models import Profile, Region, Shop

# The admin's login says so, too, when the login throttle refuses a sign-in.
admin.site.login_form = AdminLoginForm


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["name", "country_code", "currency", "date_order", "view_name", "looker_group"]


@admin.register(Shop)
class ShopAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "region", "expected_upload_every_days"]
    list_filter = ["region"]
    search_fields = ["code", "name"]


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    filter_horizontal = ["regions", "shops"]
    verbose_name_plural = "Role and scope"


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class UserWithRoleAdmin(UserAdmin):
    inlines = [ProfileInline]
    list_display = ["username", "email", "role", "is_active", "is_staff"]
    list_filter = ["profile__role", "is_active", "is_staff"]

    @admin.display(description="Role", ordering="profile__role")
    def role(self, user) -> str:
        profile = getattr(user, "profile", None)
        return profile.get_role_display() if profile and profile.role else "no role"
