"""Shared fixtures. Tests load the production settings module with production defaults;
only the secret key and fake AWS credentials are supplied here.

The fake is held to AWS's rules for the whole session: every boto3 request is checked
against botocore's models (deploy/conformance.py: installed before any client exists,
and switched on in the processes tests start through GATEHOUSE_AWS_CONFORMANCE), and
moto's WAF gets the documented behaviour it lacks (deploy/moto_fixes.py)."""

import copy
import importlib
import inspect
import os
import tempfile
from collections import Counter
from dataclasses import dataclass
from typing import Any

# Set here, not in pytest's ini, so they are in place before Django reads settings:
# tests run the production settings module in production mode, which needs a key.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adminsite.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-key-" + "x" * 50)
# moto loads its ~5,000 default AMIs (and a volume and snapshot for each) into every EC2
# region a test touches: about a second of CPU per test that makes a VPC. Nothing here
# uses an AMI. Processes the tests start (runlocal's moto server) inherit it.
os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")

import django  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402

# Examples per property (tests/api/test_schema_fuzz.py): "full" by default (`make test`, CI);
# `make test-fast` picks "dev" (--hypothesis-profile=dev): the same checks on fewer inputs.
hypothesis_settings.register_profile("full", max_examples=25)
hypothesis_settings.register_profile("dev", max_examples=8)
hypothesis_settings.load_profile("full")

from deploy import conformance  # noqa: E402

conformance.install(report_to="")  # this process keeps its counts in memory
if os.environ.get("PYTEST_XDIST_WORKER"):
    # An xdist worker inherits the session's environment, so pytest-django set Django up
    # before this file and deploy.apps installed the guard first, reporting to the
    # session's file as a subprocess would. A worker is the session: counts in memory
    # (the controller sums them), its violations fail its own tests.
    conformance._report_path = None
# Processes the tests start (runlocal, gunicorn, manage.py) check their requests too and
# report what they checked here; read back at the end of the session.
os.environ[conformance.ENV_SWITCH] = "1"
_OWN_REPORT = not os.environ.get(conformance.ENV_REPORT)
if _OWN_REPORT:
    _fd, _report = tempfile.mkstemp(prefix="gatehouse-aws-conformance-", suffix=".jsonl")
    os.close(_fd)
    os.environ[conformance.ENV_REPORT] = _report

# After the guard: clients and sessions made from here on are checked.
import boto3  # noqa: E402
import botocore.client  # noqa: E402
import botocore.endpoint_provider  # noqa: E402
import botocore.hooks  # noqa: E402
import botocore.loaders  # noqa: E402
import botocore.model  # noqa: E402
import botocore.session  # noqa: E402
from moto import mock_aws  # noqa: E402
from moto.core import models as moto_models  # noqa: E402
from moto.core import responses as moto_responses  # noqa: E402

from accesscontrol.edge import WAF_REGION, WAF_SCOPE, ip_set_names  # noqa: E402

# Every boto3.Session gets its own botocore loader, which parses the service models again
# (EC2's alone is several MB of JSON): tests make sessions by the hundred (every command,
# every moto backend), so one loader per data path is shared, read-only, in this process.
_loaders: dict[str | None, botocore.loaders.Loader] = {}


def _shared_loader(search_path_string: str | None = None) -> botocore.loaders.Loader:
    if search_path_string not in _loaders:
        _loaders[search_path_string] = botocore.loaders.create_loader(search_path_string)
    return _loaders[search_path_string]


botocore.session.create_loader = _shared_loader

# Each client gets a new class with a method per operation (EC2 has ~700), built again for
# every client of every session: a tenth of a provisioning test. The class holds no state
# of its own (model, endpoint, credentials and events live on the instance), so one per
# service and set of `creating-client-class` handlers (boto3's add S3's transfer methods)
# is reused in this process. Handlers a test registers act on instances, not classes.
_client_classes: dict[tuple[str, str | None, tuple[str, ...]], type] = {}
_create_client_class = botocore.client.ClientCreator._create_client_class


def _class_handlers(emitter: Any, event: str) -> tuple[str, ...] | None:
    """Names of the handlers `event` runs (None if botocore's internals have moved)."""
    handlers = getattr(
        getattr(getattr(emitter, "_emitter", None), "_handlers", None), "prefix_search", None
    )
    if handlers is None:
        return None
    return tuple(f"{h.__module__}.{h.__qualname__}" for h in handlers(event))


def _shared_client_class(self: Any, service_name: str, service_model: Any) -> type:
    event = f"creating-client-class.{service_model.service_id.hyphenize()}"
    handlers = _class_handlers(self._event_emitter, event)
    if handlers is None:
        return _create_client_class(self, service_name, service_model)
    key = (service_name, service_model.api_version, handlers)
    if key not in _client_classes:
        _client_classes[key] = _create_client_class(self, service_name, service_model)
    return _client_classes[key]


botocore.client.ClientCreator._create_client_class = _shared_client_class

# Likewise each client wraps the (shared) JSON model in a new ServiceModel, whose caches
# start empty: endpoint discovery alone walks every operation of it again. The model is
# read-only, so one per service model document is reused.
_service_models: dict[tuple[str, str | None, int], tuple[Any, Any]] = {}


def _shared_service_model(self: Any, service_name: str, api_version: str | None = None) -> Any:
    document = self._loader.load_service_model(service_name, "service-2", api_version=api_version)
    key = (service_name, api_version, id(document))
    if key not in _service_models:  # the document is kept with it, so its id stays unique
        _service_models[key] = (document, botocore.model.ServiceModel(document, service_name))
    return _service_models[key][1]


botocore.client.ClientCreator._load_service_model = _shared_service_model

# Every session and every client's copy of its events starts with an empty cache of event
# names translated through botocore's aliases, and fills it again handler by handler. The
# translation depends only on the aliases, so emitters with botocore's own share one.
_alias_names: dict[str, str] = {}
_aliaser_init = botocore.hooks.EventAliaser.__init__


def _aliaser_sharing_names(self: Any, event_emitter: Any, event_aliases: Any = None) -> None:
    _aliaser_init(self, event_emitter, event_aliases)
    if self._event_aliases == botocore.hooks.EVENT_ALIASES:
        self._alias_name_cache = _alias_names


botocore.hooks.EventAliaser.__init__ = _aliaser_sharing_names  # type: ignore[method-assign]

# Registering a handler checks that it takes **kwargs through inspect.getfullargspec:
# ~140 times per client (its copy of every built-in handler), 7% of a run's CPU. The
# answer depends only on the function's signature, so it is asked once per function.
_takes_kwargs: dict[Any, Any] = {}
_accepts_kwargs = botocore.hooks.accepts_kwargs


def _accepts_kwargs_once(func: Any) -> Any:
    key = getattr(func, "__func__", func)  # a bound method has its function's signature
    try:
        return _takes_kwargs[key]
    except KeyError:
        answer = _takes_kwargs[key] = _accepts_kwargs(func)
        return answer
    except TypeError:  # unhashable callable: ask every time
        return _accepts_kwargs(func)


botocore.hooks.accepts_kwargs = _accepts_kwargs_once

# Every mock_aws start registers moto's ~1,300 URL patterns x 7 methods with `responses`
# as new CallbackResponse objects (for `requests`-based calls to AWS): 13 ms per test that
# uses moto. Registration stays per start (moto resets the registry at stop); the response
# objects, which only hold the method, the pattern and moto's callback, are made once.
_moto_callback_responses: dict[tuple[Any, ...], Any] = {}
_CallbackResponse = moto_models.CallbackResponse


def _moto_callback_response(*, method: str, url: Any, callback: Any) -> Any:
    key = (method, url, callback)
    if key not in _moto_callback_responses:
        _moto_callback_responses[key] = _CallbackResponse(method=method, url=url, callback=callback)
    return _moto_callback_responses[key]


moto_models.CallbackResponse = _moto_callback_response  # type: ignore[assignment,misc]


# moto finds a request's handler by listing every method of its response class with
# inspect.getmembers, on every request (2% of a run), only to ask whether the action is
# one of them. The same question, asked of the class as it is now (moto's fixes add and
# take away methods): is the name a plain function on the class?
class _MethodNames:
    def __init__(self, clazz: type) -> None:
        self._clazz = clazz

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and inspect.isfunction(getattr(self._clazz, name, None))


moto_responses.method_names_from_class = _MethodNames  # type: ignore[assignment]

# Every client parses its service's endpoint rule set into a tree of rule objects
# (RuleSet), again for each client. The tree is read-only and depends only on the rule set
# and partition documents, which the shared loader hands out as the same objects.
_rule_sets: dict[tuple[int, int], tuple[Any, Any, Any]] = {}
_RuleSet = botocore.endpoint_provider.RuleSet


def _shared_rule_set(*, partitions: Any, **ruleset_data: Any) -> Any:
    key = (id(ruleset_data.get("rules")), id(partitions))
    if key not in _rule_sets:  # the documents are kept with it, so their ids stay unique
        rule_set = _RuleSet(**ruleset_data, partitions=partitions)
        _rule_sets[key] = (ruleset_data.get("rules"), partitions, rule_set)
    return _rule_sets[key][2]


botocore.endpoint_provider.RuleSet = _shared_rule_set  # type: ignore[misc,assignment]


# Each client copies its session's event handlers: a trie of ~400 nodes, copied through
# copy.copy's generic dispatch (4% of a run). This copies the same structure directly:
# new dicts and new handler lists, the handlers themselves shared, as botocore does.
def _copy_trie_node(self: Any, node: dict[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = {}
    for key, value in node.items():
        if type(value) is botocore.hooks.NodeList:
            copied[key] = botocore.hooks.NodeList(
                value.first.copy(), value.middle.copy(), value.last.copy()
            )
        elif isinstance(value, dict):
            copied[key] = _copy_trie_node(self, value)
        elif isinstance(value, botocore.hooks.NodeList):  # a subclass: botocore's own way
            copied[key] = copy.copy(value)
        else:
            copied[key] = value
    return copied


botocore.hooks._PrefixTrie._recursive_copy = _copy_trie_node


def _whitenoise_scans_once() -> None:
    """WhiteNoise (WHITENOISE_USE_FINDERS) walks and stats every static file of the
    installed apps when its middleware is made: once per process in production, but once
    per test client here (~600 per run, 8% of its CPU). The files do not change during a
    run, so the scan's result is kept per set of options that shape it."""
    from whitenoise.middleware import WhiteNoiseMiddleware  # type: ignore[import-untyped]

    scan = WhiteNoiseMiddleware.add_files_from_finders
    scanned: dict[tuple[Any, ...], dict[str, Any]] = {}

    def add_files_from_finders(self: WhiteNoiseMiddleware) -> None:
        key = (
            self.static_prefix,
            self.max_age,
            self.allow_all_origins,
            self.charset,
            self.index_file,
            self.add_headers_function,
            # a bound method differs per instance; its function does not
            getattr(self.immutable_file_test, "__func__", self.immutable_file_test),
        )
        if key not in scanned:
            before = dict(self.files)
            scan(self)
            scanned[key] = {url: f for url, f in self.files.items() if before.get(url) is not f}
        self.files.update(scanned[key])

    WhiteNoiseMiddleware.add_files_from_finders = add_files_from_finders


def pytest_configure(config):
    django.setup()
    _whitenoise_scans_once()
    from deploy.moto_fixes import apply_waf_fixes

    apply_waf_fixes()


@pytest.fixture(autouse=True)
def aws_conformance():
    """A request the guard refused fails the test even if the code under test caught the
    error (our AWS wrappers turn unexpected errors into "pending" sync states)."""
    conformance.clear_violations()
    yield
    fail_on_conformance_violations()


def _subprocess_report() -> conformance.Report:
    return conformance.read_report(os.environ[conformance.ENV_REPORT])


# Requests checked by pytest-xdist's workers (`make test-fast`), summed on the controller.
_WORKERS_CHECKED: Counter[str] = Counter()


def pytest_sessionfinish(session, exitstatus):
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: hand the counts to the controller
        workeroutput["aws_conformance_checked"] = dict(conformance.checked())
    if _subprocess_report().violations:
        session.exitstatus = 1


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    _WORKERS_CHECKED.update(getattr(node, "workeroutput", {}).get("aws_conformance_checked", {}))


def pytest_terminal_summary(terminalreporter):
    own = conformance.checked() + _WORKERS_CHECKED
    others = _subprocess_report()
    operations = set(own) | others.operations
    terminalreporter.write_line(
        f"AWS conformance guard: {len(operations)} operations checked "
        f"({sum(own.values())} requests here, {len(others.operations)} operations in "
        f"subprocesses); {len(others.violations)} violations in subprocesses"
    )
    if os.environ.get("GATEHOUSE_AWS_CONFORMANCE_SUMMARY") == "1":
        total = own + others.counts
        for operation in sorted(operations):
            where = "" if operation in own else "  (subprocesses only)"
            count = total[operation] or "-"  # a process ended by a signal: no count
            terminalreporter.write_line(f"  {operation:<50} {count}{where}")
    for problem in others.violations:
        terminalreporter.write_line(f"  VIOLATION (subprocess): {problem}", red=True)
    if _OWN_REPORT:
        os.unlink(os.environ[conformance.ENV_REPORT])


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """Browser tests run last, after pytest-django's own ordering: Playwright's sync API
    keeps an asyncio loop running in the main thread for the rest of the session, and
    Django refuses ORM calls from a thread with a running loop (SynchronousOnlyOperation)."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # noqa: S105
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def fake_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never reach a real account: fake credentials, no profile, no custom endpoint."""
    for name, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch):
    fake_aws_env(monkeypatch)


def fail_on_conformance_violations() -> None:
    """For module-scoped setup, which runs outside `aws_conformance`'s watch."""
    found = conformance.violations()
    conformance.clear_violations()
    if found:
        pytest.fail("AWS conformance guard refused requests:\n  " + "\n  ".join(found))


# --- second factor (branch mfa) ---------------------------------------------------------
def sign_in(client: Any, user: Any, *, second_factor: bool = True) -> Any:
    """force_login, and (by default) mark the session as having passed the second factor,
    as a password + TOTP sign-in does: tests load production's GATEHOUSE_REQUIRE_MFA, which
    refuses changes (and the Django admin) to a session at the password step."""
    from accesscontrol import second_factor as mfa

    client.force_login(user)
    if second_factor:
        session = client.session
        session[mfa.AUTH_METHOD] = mfa.METHOD_TOTP
        session.save()
    return client


@pytest.fixture
def https_client(client):
    """Django's test client as the ALB talks to gunicorn: HTTP with X-Forwarded-Proto."""
    client.defaults["HTTP_X_FORWARDED_PROTO"] = "https"
    return client


_aws_clients: dict[tuple[str, str], Any] = {}


def aws_client(service: str, region: str) -> Any:
    """A plain boto3 client, as a person at the AWS console would act, for tests to set up
    and look at what is in moto. One per service and region in this process, shared by
    every test: moto answers it inside whichever mock_aws is open (as it does the app's own
    cached WAF client), and making one costs ~7 ms of CPU, which tests paid ~1,500 times."""
    if (service, region) not in _aws_clients:
        _aws_clients[service, region] = boto3.client(service, region_name=region)
    return _aws_clients[service, region]


def office_web_acl(edge_name: str, ip_set_arns: list[str], *, sampling: bool = True) -> dict:
    """CreateWebACL's arguments for the edge's web ACL as provision_infra shapes it: allow
    the office IP sets, default Block, metric names without dashes (for tests that need
    one without provisioning: GET /api/blocked reads its samples)."""
    metric = f"{edge_name}edge".replace("-", "")

    def visibility(name: str) -> dict:
        return {
            "SampledRequestsEnabled": sampling,
            "CloudWatchMetricsEnabled": True,
            "MetricName": name,
        }

    return {
        "Name": f"{edge_name}-edge",
        "Scope": WAF_SCOPE,
        "DefaultAction": {"Block": {}},
        "Rules": [
            {
                "Name": "allow-office-networks",
                "Priority": 1,
                "Action": {"Allow": {}},
                "Statement": {
                    "OrStatement": {
                        "Statements": [
                            {"IPSetReferenceStatement": {"ARN": arn}} for arn in ip_set_arns
                        ]
                    }
                },
                "VisibilityConfig": visibility(f"{metric}allowoffice"),
            }
        ],
        "VisibilityConfig": visibility(metric),
    }


@dataclass
class FakeWaf:
    """The office IP sets as an outsider (the AWS console) sees them: plain boto3 calls."""

    client: Any
    ids: dict[int, str]
    names: dict[int, str]

    @classmethod
    def create(cls, edge_name: str) -> "FakeWaf":
        """Both office IP sets, empty, as provision_infra creates them."""
        client = aws_client("wafv2", WAF_REGION)
        names = ip_set_names(edge_name)
        ids = {}
        for version, name in names.items():
            created = client.create_ip_set(
                Name=name,
                Scope=WAF_SCOPE,
                IPAddressVersion=f"IPV{version}",
                Addresses=[],
                Description="Gatehouse office allowlist",
            )
            ids[version] = created["Summary"]["Id"]
        return cls(client=client, ids=ids, names=names)

    def addresses(self, version: int) -> set[str]:
        response = self.client.get_ip_set(
            Name=self.names[version], Scope=WAF_SCOPE, Id=self.ids[version]
        )
        return set(response["IPSet"]["Addresses"])

    def create_web_acl(self, edge_name: str, *, sampling: bool = True) -> dict:
        """The edge's web ACL (office_web_acl) over these two sets; returns its summary
        (Name, Id, ARN)."""
        arns = {s["Name"]: s["ARN"] for s in self.client.list_ip_sets(Scope=WAF_SCOPE)["IPSets"]}
        ip_set_arns = [arns[name] for name in self.names.values()]
        return self.client.create_web_acl(
            **office_web_acl(edge_name, ip_set_arns, sampling=sampling)
        )["Summary"]

    def edit(self, version: int, addresses: set[str]) -> None:
        """An out-of-band edit, as in the AWS console."""
        response = self.client.get_ip_set(
            Name=self.names[version], Scope=WAF_SCOPE, Id=self.ids[version]
        )
        self.client.update_ip_set(
            Name=self.names[version],
            Scope=WAF_SCOPE,
            Id=self.ids[version],
            Addresses=sorted(addresses),
            LockToken=response["LockToken"],
        )


@pytest.fixture
def aws():
    """moto for every AWS service (deploy's tests add its moto fixes)."""
    with mock_aws():
        yield


@pytest.fixture
def waf(aws, settings) -> FakeWaf:
    """The edge's two office IP sets in moto, empty, as provision_infra creates them."""
    return FakeWaf.create(settings.GATEHOUSE_EDGE_NAME)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Production's PBKDF2 costs ~0.3 s per hash; hashing strength is not under test here
    (processes the tests start keep production's hashers)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def role_permissions(name: str) -> list[str]:
    """The permission codenames of the "viewer" or "editor" role, as the data migration
    defines them (imported, not re-typed)."""
    migration = importlib.import_module("accesscontrol.migrations.0002_viewer_editor_groups")
    return {"viewer": migration.VIEWER, "editor": migration.EDITOR}[name]


def role_group(name: str):
    """The "viewer" or "editor" group with the migration's permissions. The migration made
    them, but transactional_db flushes every table after a test, migration data included:
    so this puts a missing one back."""
    from django.contrib.auth.models import Group, Permission

    group, created = Group.objects.get_or_create(name=name)
    if created:
        group.permissions.add(
            *Permission.objects.filter(
                content_type__app_label="accesscontrol", codename__in=role_permissions(name)
            )
        )
    return group


# Single sign-on: the development OpenID provider, one process per test session, started on
# first use (tests/devidp.py).
from tests.devidp import dev_provider  # noqa: E402, F401
