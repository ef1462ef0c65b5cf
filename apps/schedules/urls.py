from django.urls import path

from apps.schedules import views

app_name = "schedules"

urlpatterns = [
    path("", views.schedule_list, name="list"),
    path("workflow/<int:pk>/add/", views.schedule_add, name="add"),
    path("<int:pk>/pause/", views.schedule_pause, name="pause"),
    path("<int:pk>/resume/", views.schedule_resume, name="resume"),
    path("<int:pk>/delete/", views.schedule_delete, name="delete"),
]
