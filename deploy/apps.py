import os

from django.apps import AppConfig


class DeployConfig(AppConfig):
    name = "deploy"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # DEV/TEST ONLY: check every AWS request against botocore's models (see
        # deploy/conformance.py). Production pays one environment lookup; the module is
        # imported only when the variable is set (soak workers, commands against the
        # local stack).
        if os.environ.get("GATEHOUSE_AWS_CONFORMANCE") == "1":
            from deploy.conformance import install

            install()
