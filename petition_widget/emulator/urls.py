"""The emulator's URLs: ``changeorg/v1/``, ``wethepeople/v1/`` and ``_emulator/``.

Mount them in a site with ``path("emulator/", include("petition_widget.emulator.urls"))``; the standalone
server (``manage.py upstream_emulator``) serves them at its root.
"""

from django.urls import include, path

from . import changeorg, control, wethepeople

app_name = "petition_widget_emulator"

changeorg_patterns = [
    path("petitions", changeorg.petition_list, name="changeorg_petitions"),
    path("petitions/get_id", changeorg.resolve_petition_id, name="changeorg_get_id"),
    path("petitions/<str:petition_id>", changeorg.petition_detail, name="changeorg_petition"),
    path("petitions/<str:petition_id>/auth_keys", changeorg.auth_keys, name="changeorg_auth_keys"),
    path("petitions/<str:petition_id>/signatures", changeorg.signatures, name="changeorg_signatures"),
    path(
        "petitions/<str:petition_id>/signatures/recent",
        changeorg.recent_signatures,
        name="changeorg_recent_signatures",
    ),
]

wethepeople_patterns = [
    path("petitions.json", wethepeople.petition_list, name="wethepeople_petitions"),
    path("petitions/<str:petition_id>.json", wethepeople.petition_detail, name="wethepeople_petition"),
    path(
        "petitions/<str:petition_id>/signatures.json",
        wethepeople.petition_signatures,
        name="wethepeople_petition_signatures",
    ),
    path("signatures.json", wethepeople.sign, name="wethepeople_signatures"),
    path("validations.json", wethepeople.validations, name="wethepeople_validations"),
]

control_patterns = [
    path("petitions", control.petitions, name="control_petitions"),
    path("petitions/<str:petition_id>", control.petition, name="control_petition"),
    path("stats", control.stats, name="control_stats"),
    path("signatures", control.signatures, name="control_signatures"),
    path("faults", control.faults, name="control_faults"),
    path("wethepeople", control.wethepeople, name="control_wethepeople"),
    path("reset", control.reset, name="control_reset"),
    path("auth_keys/revoke", control.revoke_auth_key, name="control_revoke_auth_key"),
]

urlpatterns = [
    path("changeorg/v1/", include(changeorg_patterns)),
    path("wethepeople/v1/", include(wethepeople_patterns)),
    path("_emulator/", include(control_patterns)),
]
