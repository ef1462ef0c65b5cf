from django.urls import path

from apps.workflows import api

urlpatterns = [
    path("workflows", api.WorkflowListAPI.as_view(), name="api-workflows"),
    path("workflows/<int:pk>", api.WorkflowDetailAPI.as_view(), name="api-workflow"),
    path(
        "workflows/<int:pk>/preview", api.WorkflowPreviewAPI.as_view(), name="api-workflow-preview"
    ),
    path(
        "workflows/<int:pk>/subset-estimate",
        api.WorkflowSubsetEstimateAPI.as_view(),
        name="api-workflow-subset-estimate",
    ),
    path(
        "workflows/<int:pk>/rotate-key",
        api.WorkflowRotateKeyAPI.as_view(),
        name="api-workflow-rotate-key",
    ),
    path("techniques", api.TechniquesAPI.as_view(), name="api-techniques"),
    # deprecated path, for one more release
    path("pii-attributes", api.PiiAttributesAPI.as_view(), name="api-pii-attributes"),
]
