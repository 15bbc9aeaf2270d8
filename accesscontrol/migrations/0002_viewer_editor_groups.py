"""Creates the two roles: "viewer" reads everything; "editor" also changes the allowlist
and may run a sync. Superusers have every permission anyway."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth.management import create_permissions
from django.db import migrations

if TYPE_CHECKING:
    from django.db.backends.base.schema import BaseDatabaseSchemaEditor
    from django.db.migrations.state import StateApps

MODELS = ("allowednetwork", "auditevent", "ipsetsyncstate")
VIEWER = [f"view_{model}" for model in MODELS]
EDITOR = [
    *VIEWER,
    "add_allowednetwork",
    "change_allowednetwork",
    "delete_allowednetwork",
    "run_sync",
]


def create_groups(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    # Permissions are normally created after migrate; the groups need them now.
    # create_permissions skips an app whose models_module is falsy (a historical app has
    # none): any true value makes it run, hence a bool where Django declares a module.
    app_config = apps.get_app_config("accesscontrol")
    app_config.models_module = True  # type: ignore[assignment]
    create_permissions(app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias)
    app_config.models_module = None

    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for name, codenames in (("viewer", VIEWER), ("editor", EDITOR)):
        group, _ = group_model.objects.get_or_create(name=name)
        permissions = permission_model.objects.filter(
            content_type__app_label="accesscontrol", codename__in=codenames
        )
        group.permissions.add(*permissions)


def remove_groups(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    apps.get_model("auth", "Group").objects.filter(name__in=["viewer", "editor"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accesscontrol", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
