from django.urls import path

from apps.accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("profile/", views.profile_view, name="profile"),
    path("users/", views.users_view, name="users"),
    path("users/<int:pk>/", views.user_update_view, name="user_update"),
    path("users/<int:pk>/sign-out/", views.user_sign_out_view, name="user_sign_out"),
]
