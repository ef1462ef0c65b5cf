from django.urls import path

from apps.audit import api

urlpatterns = [
    path("audit", api.AuditListAPI.as_view(), name="api-audit"),
    path("audit/verify", api.AuditVerifyAPI.as_view(), name="api-audit-verify"),
    path("audit/<int:seq>", api.AuditDetailAPI.as_view(), name="api-audit-event"),
    path("workflows/<int:pk>/unmask", api.UnmaskAPI.as_view(), name="api-workflow-unmask"),
]
