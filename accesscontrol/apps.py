from django.apps import AppConfig


class AccessControlConfig(AppConfig):
    name = "accesscontrol"
    default_auto_field = "django.db.models.BigAutoField"
