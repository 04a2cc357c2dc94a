from __future__ import annotations

from django.urls import include, path

from . import views

urlpatterns = [
    path("", include("devices.urls_import")),
    path("", include("devices.urls_wizard")),
    path("devices/", views.DeviceList.as_view(), name="device_list"),
    path("devices/new/", views.choose_kind, name="device_create"),
    path("devices/new/<str:kind>/", views.DeviceFormView.as_view(), name="device_create_kind"),
    path("devices/<int:pk>/", views.DeviceDetail.as_view(), name="device_detail"),
    path("devices/<int:pk>/edit/", views.DeviceFormView.as_view(), name="device_edit"),
    path("devices/<int:pk>/delete/", views.DeviceDelete.as_view(), name="device_delete"),
]
