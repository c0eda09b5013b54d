"""Fixtures: a real `ossd serve` process plus oss2 / alibabacloud-oss-v2 clients.

The server binary comes from $OSSD_BIN (default <repo>/target/debug/ossd);
scripts/test builds it first.
"""

import logging

import pytest

import oss2
import alibabacloud_oss_v2 as oss

from ossd_helpers import CLUSTER, REGION, OssdServer, ServerStartError, unique_bucket


def pytest_configure(config):
    config.addinivalue_line("markers", "single_node: needs one ossd process and its data directory")


def pytest_collection_modifyitems(config, items):
    if not CLUSTER:
        return
    skip = pytest.mark.skip(reason="single-node test: looks at one process's data directory or output")
    for item in items:
        if "single_node" in item.keywords:
            item.add_marker(skip)

# oss2 logs every exception at INFO/ERROR; keep the pytest output readable.
logging.getLogger("oss2").setLevel(logging.CRITICAL)


def _start(tmp_path_factory, name, **kw):
    server = OssdServer(tmp_path_factory.mktemp(name) / "data", **kw)
    try:
        server.start()
    except ServerStartError as e:
        pytest.fail(str(e), pytrace=False)
    return server


@pytest.fixture(scope="session")
def ossd(tmp_path_factory):
    """The shared server for the whole session (never restarted)."""
    server = _start(tmp_path_factory, "ossd-shared")
    yield server
    server.stop()


@pytest.fixture
def fresh_ossd(tmp_path_factory):
    """A private server for tests that restart or stop it."""
    server = _start(tmp_path_factory, "ossd-private")
    yield server
    server.stop()


# ---------------------------------------------------------------------------
# oss2 (Python V1 SDK)

def oss2_auth(version, ak, sk):
    if version == "v1":
        return oss2.Auth(ak, sk)
    if version == "v4":
        return oss2.AuthV4(ak, sk)
    raise ValueError(version)


def oss2_bucket(server, name, version="v1", ak=None, sk=None, endpoint=None, **kw):
    auth = oss2_auth(version, ak or server.ak, sk or server.sk)
    kw.setdefault("connect_timeout", 60)
    if version == "v4":
        kw.setdefault("region", REGION)
    return oss2.Bucket(auth, endpoint or server.endpoint, name, **kw)


def oss2_service(server, version="v1", ak=None, sk=None, endpoint=None):
    auth = oss2_auth(version, ak or server.ak, sk or server.sk)
    region = REGION if version == "v4" else None
    return oss2.Service(auth, endpoint or server.endpoint, region=region, connect_timeout=60)


@pytest.fixture(params=["v1", "v4"])
def auth_version(request):
    return request.param


@pytest.fixture
def bucket(ossd, auth_version):
    """A fresh bucket, created through oss2 with the parametrized signature version."""
    b = oss2_bucket(ossd, unique_bucket("o2"), auth_version)
    b.create_bucket()
    return b


@pytest.fixture
def bucket_v1(ossd):
    """A fresh bucket with V1 auth only (for tests where the auth version is irrelevant)."""
    b = oss2_bucket(ossd, unique_bucket("o2"), "v1")
    b.create_bucket()
    return b


@pytest.fixture
def service(ossd, auth_version):
    return oss2_service(ossd, auth_version)


# ---------------------------------------------------------------------------
# alibabacloud-oss-v2 (Python V2 SDK)

def v2_client(server, sigver="v4", style="ip", ak=None, sk=None):
    cfg = oss.config.load_default()
    cfg.credentials_provider = oss.credentials.StaticCredentialsProvider(
        ak or server.ak, sk or server.sk)
    cfg.region = REGION
    if style == "ip":
        cfg.endpoint = server.ip_endpoint
    elif style == "localhost":
        cfg.endpoint = server.localhost_endpoint
        cfg.use_path_style = True
    else:
        raise ValueError(style)
    if sigver != "v4":
        cfg.signature_version = sigver
    # Errors should surface at once, not after the SDK's retries.
    cfg.retry_max_attempts = 1
    return oss.Client(cfg)


V2_VARIANTS = [("v4", "ip"), ("v1", "ip"), ("v4", "localhost"), ("v1", "localhost")]


@pytest.fixture(params=V2_VARIANTS, ids=[f"{s}-{e}" for s, e in V2_VARIANTS])
def v2(request, ossd):
    sigver, style = request.param
    return v2_client(ossd, sigver, style)


@pytest.fixture
def v2_bucket(v2):
    name = unique_bucket("v2")
    v2.put_bucket(oss.PutBucketRequest(bucket=name))
    return name
