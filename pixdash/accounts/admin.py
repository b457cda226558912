from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from pixdash.accounts.models import ApiKey, Invitation, Membership, Team, User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "is_staff", "is_active", "date_joined"]
    search_fields = ["email", "name"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["name", "current_team"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]
    raw_id_fields = ["current_team"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "team__name", "team__slug"]
    autocomplete_fields = ["user", "team"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["team", "email", "role", "created_at", "expires_at", "accepted_at"]
    search_fields = ["email", "team__name"]
    readonly_fields = ["token_digest", "accepted_at", "accepted_by"]
    raw_id_fields = ["team", "invited_by"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "team", "created_by", "created_at", "last_used_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "team__name", "team__slug"]
    # Keys are created in the dashboard or by `createapikey`, where the secret is shown once;
    # the admin can inspect, limit and revoke them but never mint or read a secret.
    # Scopes are chosen when a key is made and kept when it is rolled.
    readonly_fields = [
        "prefix",
        "digest",
        "created_at",
        "last_used_at",
        "created_by",
        "scopes",
        "rolled_from",
    ]
    raw_id_fields = ["team", "revoked_by"]

    def has_add_permission(self, request) -> bool:
        return False
