from django.urls import path

from billing import views

urlpatterns = [
    path("billing/stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
]

# Pages of one team (see pixdash.accounts.access.team_urls).
team_urlpatterns = [
    path("billing/", views.billing, name="billing"),
    path("billing/redeem/", views.redeem, name="billing_redeem"),
    path("billing/alerts/", views.threshold, name="billing_threshold"),
    path("billing/checkout/", views.checkout, name="billing_checkout"),
    path("billing/ledger.csv", views.ledger_csv, name="billing_ledger_csv"),
    path("billing/receipts/<str:reference>/", views.receipt, name="billing_receipt"),
    path("billing/usage/", views.usage_page, name="billing_usage"),
    path("billing/usage.csv", views.usage_csv, name="billing_usage_csv"),
    path("billing/limits/keys/<int:pk>/", views.key_limit, name="billing_key_limit"),
    path("billing/limits/members/<int:pk>/", views.member_limit, name="billing_member_limit"),
]
