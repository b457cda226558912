from django.contrib.auth import views as auth_views
from django.urls import path

from pixdash.accounts.views import invitations, keys, signup, team

urlpatterns = [
    path("accounts/signup/", signup.signup, name="signup"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/change/", auth_views.PasswordChangeView.as_view(), name="password_change"
    ),
    path(
        "accounts/password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("accounts/password/reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password/reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("invitations/<str:token>/", invitations.invitation_accept, name="invitation_accept"),
    path("teams/", team.team_list, name="teams"),
    path("teams/switch/", team.team_switch, name="team_switch"),
]

# Pages of one team (see pixdash.accounts.access.team_urls).
team_urlpatterns = [
    path("team/", team.team_detail, name="team"),
    path("team/rename/", team.team_rename, name="team_rename"),
    path("team/leave/", team.team_leave, name="team_leave"),
    path("team/retention/", team.team_retention, name="team_retention"),
    path("team/members/<int:pk>/role/", team.member_role, name="member_role"),
    path("team/members/<int:pk>/remove/", team.member_remove, name="member_remove"),
    path("team/invitations/", invitations.invitation_create, name="invitation_create"),
    path(
        "team/invitations/<int:pk>/revoke/", invitations.invitation_revoke, name="invitation_revoke"
    ),
    path("keys/", keys.key_list, name="keys"),
    path("keys/new/", keys.key_create, name="key_create"),
    path("keys/<int:pk>/rename/", keys.key_rename, name="key_rename"),
    path("keys/<int:pk>/revoke/", keys.key_revoke, name="key_revoke"),
    path("keys/<int:pk>/roll/", keys.key_roll, name="key_roll"),
]
