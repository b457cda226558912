from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "pixdash.accounts"
    label = "accounts"
    verbose_name = "Accounts and teams"
