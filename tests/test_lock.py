"""The lock: a fresh clone installs known versions, within the ranges pyproject declares."""

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent


def locked_versions() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep, f"constraints.txt: {line!r} is not an exact pin"
        pins[canonicalize_name(name)] = Version(version)
    return pins


def declared_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared.extend(extra)
    return [Requirement(spec) for spec in declared]


def test_every_declared_dependency_is_locked_within_its_range():
    pins = locked_versions()
    for requirement in declared_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is declared but not in constraints.txt"
        assert requirement.specifier.contains(pins[name]), (
            f"constraints.txt locks {requirement.name}=={pins[name]}, "
            f"outside pyproject's {requirement.specifier}"
        )


def test_django_is_locked_on_the_lts_line_with_this_years_security_fixes():
    django = locked_versions()["django"]
    assert (django.major, django.minor) == (5, 2)
    assert django >= Version("5.2.19")


def test_make_installs_from_the_lock():
    makefile = (ROOT / "Makefile").read_text()
    assert "-c constraints.txt" in makefile
