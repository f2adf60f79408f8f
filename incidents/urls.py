from django.urls import path

from incidents import api

urlpatterns = [
    path("incidents", api.IncidentListCreateApi.as_view(), name="incident-list"),
    path("incidents/<str:incident_id>", api.IncidentDetailApi.as_view(), name="incident-detail"),
    path("incidents/<str:incident_id>/events", api.IncidentTimelineApi.as_view(), name="incident-events"),
    path("incidents/<str:incident_id>/acknowledge", api.IncidentAcknowledgeApi.as_view(), name="incident-acknowledge"),
    path("incidents/<str:incident_id>/resolve", api.IncidentResolveApi.as_view(), name="incident-resolve"),
    path("incidents/<str:incident_id>/escalate", api.IncidentEscalateApi.as_view(), name="incident-escalate"),
    path("incidents/<str:incident_id>/reopen", api.IncidentReopenApi.as_view(), name="incident-reopen"),
    path("incidents/<str:incident_id>/links", api.IncidentLinkListCreateApi.as_view(), name="incident-links"),
    path(
        "incidents/<str:incident_id>/links/<str:link_id>",
        api.IncidentLinkDetailApi.as_view(),
        name="incident-link-detail",
    ),
    path("events", api.AlertEventApi.as_view(), name="alert-events"),
    path("services", api.ServiceListCreateApi.as_view(), name="service-list"),
    path("services/<str:service_id>", api.ServiceDetailApi.as_view(), name="service-detail"),
]
