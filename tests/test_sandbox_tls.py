"""The sandbox over HTTPS (--tls): SDKs that insist on https://{domain} can be pointed at it,
and the actions' own fetch calls trust its CA."""

from __future__ import annotations

import ssl

import httpx
import pytest

from stiggctl.sandbox.auth0.seed import ACME, BUSINESS_APP_ID
from tests.sandbox_helpers import running_sandbox

pytest.importorskip("trustme", reason="the [tls] extra is not installed")

FETCHING_ACTION = """
exports.onExecutePostLogin = async (event, api) => {
  const response = await fetch(event.secrets.BASE + '/_sandbox/health');
  api.user.setAppMetadata('health', response.status);
};
"""


def test_https_with_the_sandbox_ca(tmp_path):
    ca_file = tmp_path / "ca.pem"
    with running_sandbox(tls=True, ca_file=ca_file) as server:
        info = server.info()
        assert server.base_url.startswith("https://127.0.0.1:")
        assert info["tls"] == {"ca_file": str(ca_file)}
        assert info["stigg"]["api_url"] == f"{server.base_url}/graphql"
        trusting = ssl.create_default_context(cafile=str(ca_file))
        health = httpx.get(f"{server.base_url}/_sandbox/health", verify=trusting)
        assert health.json() == {"ok": True}
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{server.base_url}/_sandbox/health")  # the CA is not trusted by default


def test_official_auth0_sdk_with_a_plain_domain(tmp_path, monkeypatch):
    management = pytest.importorskip("auth0.management")
    ca_file = tmp_path / "ca.pem"
    with running_sandbox(tls=True, ca_file=ca_file) as server:
        # What `eval "$(stiggctl sandbox env ...)"` sets for a TLS sandbox.
        from tests.sandbox_helpers import sandbox_env

        env = sandbox_env(server)
        assert env["SSL_CERT_FILE"] == env["NODE_EXTRA_CA_CERTS"] == str(ca_file)
        monkeypatch.setenv("SSL_CERT_FILE", env["SSL_CERT_FILE"])
        info = server.info()["auth0"]
        domain = server.base_url.removeprefix("https://")
        client = management.ManagementClient(
            domain=domain, client_id=info["client_id"], client_secret=info["client_secret"]
        )
        org = client.organizations.get(ACME)
        assert org.display_name == "Acme Corp"


@pytest.mark.node
def test_action_fetch_trusts_the_sandbox_ca():
    with running_sandbox(tls=True) as server:
        server.sandbox.auth0.add_action(
            "Health", FETCHING_ACTION, secrets={"BASE": server.base_url}
        )
        result = server.sandbox.login("auth0|demo-alice", org_id=ACME, client_id=BUSINESS_APP_ID)
        assert result["allowed"] is True, result
        assert server.sandbox.auth0.get_user("auth0|demo-alice")["app_metadata"]["health"] == 200
