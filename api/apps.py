from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the deployment checks (adminsite is configuration, not an app).
        from adminsite import checks  # noqa: F401
