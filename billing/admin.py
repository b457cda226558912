from django.contrib import admin

from billing.models import CreditAccount, LedgerEntry


class ReadOnlyAdmin(admin.ModelAdmin):
    """Money rows change only through billing.ledger; the admin shows them."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CreditAccount)
class CreditAccountAdmin(ReadOnlyAdmin):
    list_display = ["team", "balance", "updated_at"]
    search_fields = ["team__name", "team__slug"]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "account", "kind", "amount", "reference", "model", "images"]
    list_filter = ["kind"]
    search_fields = ["reference", "account__team__slug", "reason"]
    date_hierarchy = "created_at"
