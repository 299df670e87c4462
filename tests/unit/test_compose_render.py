"""The Compose renderer as a pure function of the catalog (no binary needed here)."""

from __future__ import annotations

import yaml

from aipair.catalog import load_catalog, parse_catalog
from aipair.catalog.graph import start_waves
from aipair.catalog.model import Catalog
from aipair.catalog.probes import HttpHealth
from aipair.render.compose import render_compose
from aipair.render.files import render_phase

from ..helpers.catalogs import minimal
from ..helpers.paths import DEFAULT_CATALOG


def _catalog(data: dict) -> Catalog:
    return parse_catalog(yaml.safe_dump(data, sort_keys=False))


def test_minimal_catalog_renders_what_it_asks_for() -> None:
    document, notes = render_compose(_catalog(minimal()))
    services = document["services"]
    web, cache, migrate, proxy = services["web"], services["cache"], services["migrate"], services["proxy"]

    assert web["healthcheck"]["test"] == ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8000/healthz"]
    assert cache["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert web["depends_on"] == {
        "cache": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert migrate["depends_on"] == {"cache": {"condition": "service_healthy"}}  # list form → healthy
    assert migrate["restart"] == "no" and web["restart"] == "unless-stopped"
    assert "healthcheck" not in migrate

    assert web["networks"] == ["application", "data"]
    assert cache["networks"] == ["data"]
    assert proxy["networks"] == ["application", "management"]  # routes to web's layer
    assert set(document["networks"]) == {"application", "data", "management"}

    assert proxy["ports"] == [
        {"target": 80, "published": "8080", "protocol": "tcp"},
        {"target": 443, "published": "8443", "protocol": "tcp"},
    ]
    assert "ports" not in web and web["expose"] == ["8000"]

    assert web["environment"]["PUBLIC_URL"] == "https://www.demo.example.com"
    assert web["environment"]["PRICE"] == "$$5"  # a literal dollar stays escaped for Compose
    assert web["environment"]["CACHE_URL"].startswith("redis://:${CACHE_PASSWORD?")
    assert web["secrets"] == [{"source": "api_token", "target": "/run/secrets/api_token"}]
    assert document["secrets"] == {"api_token": {"environment": "API_TOKEN"}}
    assert migrate["command"] == ["sh", "-c", "echo migrated $$HOSTNAME"]

    assert web["deploy"]["resources"] == {"limits": {"cpus": "1", "memory": "1g"}, "reservations": {"memory": "512m"}}
    assert cache["deploy"]["resources"]["limits"] == {"cpus": "0.25", "memory": "256m"}
    assert web["logging"] == {"driver": "json-file", "options": {"max-size": "10m", "max-file": "3"}}
    assert cache["volumes"] == [{"type": "volume", "source": "cache-data", "target": "/data"}]
    assert document["volumes"] == {"cache-data": {"labels": {"com.aipair.service": "cache"}}}
    assert proxy["volumes"][-1] == {
        "type": "bind",
        "source": "/var/run/docker.sock",
        "target": "/var/run/docker.sock",
    }  # not read-only: `:ro` stops no Docker API call (issue 12, M10)

    labels = web["labels"]
    assert labels["traefik.enable"] == "true"
    assert labels["traefik.docker.network"] == "demo_application"
    assert labels["traefik.http.routers.web-http.rule"] == "Host(`www.demo.example.com`)"
    assert labels["traefik.http.routers.web-http.tls.certresolver"] == "letsencrypt"
    assert labels["traefik.http.services.web-http.loadbalancer.server.port"] == "8000"
    assert "--certificatesresolvers.letsencrypt.acme.email=ops@demo.example.com" in proxy["command"]
    assert "--entrypoints.websecure.address=:443" in proxy["command"]

    topics = {(n.topic, n.service) for n in notes}
    assert ("replicas", None) in topics and ("networks", None) in topics


def test_probe_none_drops_the_healthcheck_and_downgrades_dependents() -> None:
    data = minimal()
    data["services"]["cache"]["health"] = {"type": "tcp", "port": 6379, "probe": "none"}
    document, notes = render_compose(_catalog(data))
    assert "healthcheck" not in document["services"]["cache"]
    assert document["services"]["web"]["depends_on"]["cache"] == {"condition": "service_started"}
    assert any(n.topic == "health" and n.service == "cache" for n in notes)
    assert any(n.topic == "depends_on" and n.service == "web" and "'cache'" in n.message for n in notes)


def test_every_probe_kind_runs_a_program_the_image_has() -> None:
    expectations = {
        "curl": ["CMD", "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8000/healthz"],
        "node": ["CMD", "node", "-e"],
        "python": ["CMD", "python3", "-c"],
        "bash": ["CMD", "bash", "-c"],
    }
    for probe, prefix in expectations.items():
        data = minimal()
        data["services"]["web"]["health"]["probe"] = probe
        test = render_compose(_catalog(data))[0]["services"]["web"]["healthcheck"]["test"]
        assert test[: len(prefix)] == prefix, probe
    data = minimal()
    data["services"]["web"]["health"]["probe"] = "bash"
    script = render_compose(_catalog(data))[0]["services"]["web"]["healthcheck"]["test"][3]
    assert script.startswith('exec 3<>/dev/tcp/127.0.0.1/8000 && printf "GET %s HTTP/1.0')
    assert render_compose(_catalog(data))[0]["services"]["web"]["healthcheck"]["test"][4:] == ["probe", "/healthz"]
    assert "$${code:-500}" in script  # escaped, so Compose leaves it to bash
    data["services"]["cache"]["health"] = {"type": "tcp", "port": 6379, "probe": "nc"}
    assert render_compose(_catalog(data))[0]["services"]["cache"]["healthcheck"]["test"] == [
        "CMD",
        "nc",
        "-z",
        "127.0.0.1",
        "6379",
    ]


def test_project_name_isolates_a_throwaway_project() -> None:
    document, _ = render_compose(_catalog(minimal()), project_name="demo-candidate")
    assert document["name"] == "demo-candidate"
    assert document["services"]["web"]["labels"]["traefik.docker.network"] == "demo-candidate_application"


def test_scale_only_services_are_left_out_of_phase_1() -> None:
    data = minimal()
    data["services"]["cache"]["phases"] = ["mvp", "scale"]
    data["services"]["metrics"] = {
        "layer": "management",
        "phases": ["scale"],
        "image": "prom/prometheus:v3.1.0",
        "ports": [{"port": 9090}],
        "health": {"type": "http", "port": 9090, "path": "/-/ready", "probe": "wget"},
    }
    document, notes = render_compose(_catalog(data))
    assert "metrics" not in document["services"]
    assert any(n.topic == "phases" and "metrics" in n.message for n in notes)


def test_rendering_is_deterministic() -> None:
    catalog = load_catalog(DEFAULT_CATALOG)
    first = render_phase(catalog, "mvp").files
    second = render_phase(load_catalog(DEFAULT_CATALOG), "mvp").files
    assert first == second
    assert "compose/docker-compose.yml" in first and "compose/.env.example" in first


def test_default_catalog_is_the_whole_platform() -> None:
    catalog = load_catalog(DEFAULT_CATALOG)
    names = set(catalog.services)
    for required in (
        "app-api",
        "app-web",
        "crm",
        "helpdesk",
        "calcom",
        "forms",
        "social",
        "kestra",
        "kestra-db",
        "tracardi-api",
        "tracardi-gui",
        "elasticsearch",
        "redis",
        "supabase-db",
        "supabase-kong",
        "supabase-auth",
        "supabase-rest",
        "qdrant",
        "portainer",
        "proxy",
    ):
        assert required in names, required
    assert {svc.layer for svc in catalog.services.values()} == {"application", "orchestration", "data", "management"}
    assert all(svc.image_tag not in (None, "latest") for svc in catalog.services.values())
    assert len(start_waves(catalog, "mvp")) >= 4


def test_default_catalog_compose_probes_and_routes() -> None:
    catalog = load_catalog(DEFAULT_CATALOG)
    document, _ = render_compose(catalog)
    services = document["services"]
    qdrant = services["qdrant"]["healthcheck"]["test"]
    assert qdrant[:3] == ["CMD", "bash", "-c"] and "/dev/tcp/127.0.0.1/6333" in qdrant[3]  # Qdrant has no curl
    for name, svc in catalog.in_phase("mvp").items():
        rendered = services[name]
        if svc.kind == "job":
            assert "healthcheck" not in rendered
        elif isinstance(svc.health, HttpHealth) and svc.health.probe == "none":
            assert "healthcheck" not in rendered, name
        else:
            assert rendered["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
        for port in svc.ports:
            if port.public:
                assert rendered["labels"]["traefik.enable"] == "true", name
                assert svc.layer in services["proxy"]["networks"], name
        assert not rendered["image"].endswith(":latest")
    assert {p["published"] for p in services["proxy"]["ports"]} == {"80", "443"}
    # secrets never appear as values, only as references to compose/.env
    text = render_phase(catalog, "mvp").files["compose/docker-compose.yml"]
    assert "${SUPABASE_JWT_SECRET?" in text


def test_mock_profile_keeps_names_ports_and_health_endpoints() -> None:
    from aipair.render.mock import MOCK_IMAGE

    data = minimal()
    data["services"]["cache"]["mock"] = False  # a service you run for real stays as it is
    real, _ = render_compose(_catalog(data))
    mocked, _ = render_compose(_catalog(data), profile="mock")
    web, migrate, proxy = mocked["services"]["web"], mocked["services"]["migrate"], mocked["services"]["proxy"]
    assert mocked["services"]["cache"] == real["services"]["cache"]
    assert web["image"] == MOCK_IMAGE and web["pull_policy"] == "never" and web["init"] is True
    assert web["command"] == ["8000", "/", "/healthz"]
    assert web["healthcheck"]["test"] == ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8000/healthz"]
    assert web["expose"] == real["services"]["web"]["expose"] and web["networks"] == real["services"]["web"]["networks"]
    assert web["depends_on"] == real["services"]["web"]["depends_on"]
    assert migrate["command"] == ["job"] and "healthcheck" not in migrate
    assert proxy["ports"] == real["services"]["proxy"]["ports"]
    assert proxy["command"] == ["80,443", "/"]
    assert all(m["type"] == "volume" for m in proxy.get("volumes", [])), "no Docker socket for a stand-in"
    assert proxy["healthcheck"]["test"][-1] == "http://127.0.0.1:80/"  # native command → first port


def test_mock_profile_probes_services_whose_image_has_no_probe() -> None:
    data = minimal()
    data["services"]["cache"]["health"] = {"type": "tcp", "port": 6379, "probe": "none"}
    mocked, notes = render_compose(_catalog(data), profile="mock")
    assert mocked["services"]["cache"]["healthcheck"]["test"][-1] == "http://127.0.0.1:6379/"
    assert mocked["services"]["web"]["depends_on"]["cache"] == {"condition": "service_healthy"}
