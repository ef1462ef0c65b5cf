from django.urls import path

from apps.notifications import views

app_name = "notifications"

urlpatterns = [
    path("workflow/<int:pk>/add/", views.notification_add, name="add"),
    path("<int:pk>/delete/", views.notification_delete, name="delete"),
]
