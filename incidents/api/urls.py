from django.urls import path

from incidents.api import directory, views

urlpatterns = [
    path("incidents", views.IncidentListCreateApi.as_view(), name="incident-list"),
    path("incidents/<str:incident_id>", views.IncidentDetailApi.as_view(), name="incident-detail"),
    path("incidents/<str:incident_id>/events", views.IncidentTimelineApi.as_view(), name="incident-events"),
    path(
        "incidents/<str:incident_id>/acknowledge", views.IncidentAcknowledgeApi.as_view(), name="incident-acknowledge"
    ),
    path("incidents/<str:incident_id>/resolve", views.IncidentResolveApi.as_view(), name="incident-resolve"),
    path("incidents/<str:incident_id>/escalate", views.IncidentEscalateApi.as_view(), name="incident-escalate"),
    path("incidents/<str:incident_id>/reopen", views.IncidentReopenApi.as_view(), name="incident-reopen"),
    path("incidents/<str:incident_id>/links", views.IncidentLinkListCreateApi.as_view(), name="incident-links"),
    path(
        "incidents/<str:incident_id>/links/<str:link_id>",
        views.IncidentLinkDetailApi.as_view(),
        name="incident-link-detail",
    ),
    path("events", views.AlertEventApi.as_view(), name="alert-events"),
    path("services", directory.ServiceListCreateApi.as_view(), name="service-list"),
    path("services/<str:service_id>", directory.ServiceDetailApi.as_view(), name="service-detail"),
    path("responders", directory.ResponderListCreateApi.as_view(), name="responder-list"),
    path("responders/<str:responder_id>", directory.ResponderDetailApi.as_view(), name="responder-detail"),
]
