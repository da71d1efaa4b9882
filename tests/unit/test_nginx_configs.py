"""The named nginx fronts: headers, rendering, time scale, `nginx -t`, and the timeout-chain model."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from harness.core.errors import ConfigError
from harness.fronts.nginx import (
    FLOWS,
    VERDICTS,
    ProxyConfig,
    available_configs,
    load_proxy_config,
    nginx_argv,
    render,
)
from harness.fronts.timers import chain_timers, match_location, nginx_seconds, parse_nginx

pytestmark = pytest.mark.unit

NAMED = ["alb-edge", "buffered-sse", "cloudflare-edge", "nginx-defaults", "permissive", "recommended", "short"]
EDGES = {"alb-edge", "cloudflare-edge"}
TIMER_DIRECTIVES = ("_timeout", "lingering_time")


def _render(config: ProxyConfig, tmp_path: Path, scale: float, **overrides: object) -> str:
    args: dict[str, object] = {
        "listen_port": 18080,
        "upstream": "127.0.0.1:18081",
        "artifact_dir": tmp_path / "artifacts",
        "signing_secret": "unit-secret",
        "time_scale": scale,
        "prefix_dir": tmp_path / "prefix",
    }
    args.update(overrides)
    return render(config, **args)  # type: ignore[arg-type]


def _timers(rendered: str) -> list[tuple[str, str]]:
    """Every timer directive of a rendered config, in order, as (name, value)."""
    found: list[tuple[str, str]] = []

    def walk(block: object) -> None:
        for d in getattr(block, "children", None) or ():
            if d.children is not None:
                walk(d)
            elif d.name.endswith(TIMER_DIRECTIVES):
                found.append((d.name, d.args[0]))

    walk(parse_nginx(rendered))
    return found


def test_available_configs_are_the_named_fronts() -> None:
    assert available_configs() == NAMED


@pytest.mark.parametrize("name", NAMED)
def test_header_declares_every_flow_and_the_origin_of_edges(name: str) -> None:
    config = load_proxy_config(name)
    assert config.name == name
    assert set(config.expectations) == set(FLOWS)
    assert set(config.expectations.values()) <= set(VERDICTS)
    assert config.expectations["poll"] == "pass"
    assert config.expectations["legacy"] == ("pass" if name == "permissive" else "fail")
    assert config.description and not config.description.startswith(name)
    assert config.origin == ("permissive" if name in EDGES else None)


def test_buffered_sse_is_the_only_config_expected_to_fail_sse() -> None:
    failing = [n for n in NAMED if load_proxy_config(n).expectations["sse"] == "fail"]
    assert failing == ["buffered-sse"]


@pytest.mark.parametrize("name", NAMED)
def test_rendered_config_passes_nginx_t(name: str, tmp_path: Path) -> None:
    (tmp_path / "prefix").mkdir()
    (tmp_path / "artifacts").mkdir()
    conf = tmp_path / "prefix" / "nginx.conf"
    conf.write_text(_render(load_proxy_config(name), tmp_path, 0.05))
    result = subprocess.run(nginx_argv(conf, tmp_path / "prefix", test=True), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "warn" not in result.stderr, result.stderr


@pytest.mark.parametrize("name", NAMED)
def test_every_timer_follows_the_time_scale(name: str, tmp_path: Path) -> None:
    config = load_proxy_config(name)
    real = _timers(_render(config, tmp_path, 1.0))
    fast = _timers(_render(config, tmp_path, 0.05))
    assert len(real) >= 10 and [n for n, _ in real] == [n for n, _ in fast]
    for (directive, at_one), (_, at_scale) in zip(real, fast, strict=True):
        assert nginx_seconds(at_scale) == pytest.approx(nginx_seconds(at_one) * 0.05, abs=0.001), directive


def test_scaled_timers_render_in_milliseconds(tmp_path: Path) -> None:
    rendered = _render(load_proxy_config("recommended"), tmp_path, 0.05)
    assert "proxy_read_timeout 750ms;" in rendered  # 15 s short route
    assert "proxy_read_timeout 9000ms;" in rendered  # 180 s stream
    assert "proxy_read_timeout 3000ms;" in rendered  # nginx's 60 s default at http level
    assert "proxy_read_timeout 15000ms;" in _render(load_proxy_config("recommended"), tmp_path, 1.0)


def test_timer_filter_never_renders_below_one_millisecond(tmp_path: Path) -> None:
    template = tmp_path / "tiny.conf.j2"
    template.write_text(
        "# tiny: one timer too small to scale.\n# expect: poll=pass sse=pass download=pass legacy=fail\n"
        "server { listen {{ listen }}; proxy_read_timeout {{ 0.01 | t }}; location / { return 204; } }\n"
    )
    assert "proxy_read_timeout 1ms;" in _render(load_proxy_config(template), tmp_path, 0.001)


def test_rendered_paths_live_under_the_prefix_and_no_daemon_directive(tmp_path: Path) -> None:
    rendered = _render(load_proxy_config("recommended"), tmp_path, 0.05)
    prefix = str(tmp_path / "prefix")
    for directive in ("pid", "error_log", "access_log", "client_body_temp_path", "proxy_temp_path"):
        line = next(line for line in rendered.splitlines() if line.strip().startswith(directive + " "))
        assert prefix in line, line
    assert "worker_processes 1;" in rendered
    assert "daemon" not in [d.name for d in parse_nginx(rendered).children or ()]
    assert f'alias "{tmp_path / "artifacts"}/";' in rendered
    assert '"$secure_link_expires$uri unit-secret"' in rendered


def test_user_directive_only_when_nginx_starts_as_root(tmp_path: Path) -> None:
    (tmp_path / "artifacts").mkdir()
    rendered = _render(load_proxy_config("recommended"), tmp_path, 0.05)
    has_user = any(line.startswith("user ") for line in rendered.splitlines())
    assert has_user == (os.geteuid() == 0)
    forced = _render(load_proxy_config("recommended"), tmp_path, 0.05, worker_user="www-data www-data")
    assert "user www-data www-data;" in forced


def test_unknown_name_is_named_with_the_available_ones() -> None:
    with pytest.raises(ConfigError) as info:
        load_proxy_config("cloudflare")
    message = str(info.value)
    assert "'cloudflare'" in message
    assert all(name in message for name in NAMED)


def test_building_blocks_are_not_named_configs() -> None:
    with pytest.raises(ConfigError, match="unknown proxy config '_main'"):
        load_proxy_config("_main")


def test_missing_template_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_proxy_config(str(tmp_path / "mine.conf.j2"))


def test_user_template_by_path_with_a_relative_origin(tmp_path: Path) -> None:
    origin = tmp_path / "origin.conf.j2"
    origin.write_text((Path(load_proxy_config("recommended").path)).read_text())
    edge = tmp_path / "my-edge.conf.j2"
    edge.write_text(
        "# my-edge: a test edge.\n# expect: poll=pass sse=pass download=pass legacy=fail\n# origin: ./origin.conf.j2\n"
        "server { listen {{ listen }};\n"
        "  location / { proxy_read_timeout {{ 30 | t }}; proxy_pass http://{{ upstream }}; } }\n"
    )
    config = load_proxy_config(edge)
    assert (config.name, config.origin, config.description) == ("my-edge", str(origin), "a test edge.")
    chain = chain_timers(config, 0.05)
    assert chain.hops == ("my-edge", "origin")
    assert chain.flow("sse").idle_timeout_s == 30.0


def test_an_edge_cannot_front_another_edge(tmp_path: Path) -> None:
    edge = tmp_path / "double.conf.j2"
    edge.write_text("# expect: poll=pass sse=pass download=pass legacy=fail\n# origin: alb-edge\nserver {}\n")
    with pytest.raises(ConfigError, match="itself an edge"):
        load_proxy_config(edge)


@pytest.mark.parametrize(
    ("header", "match"),
    [
        ("# expect: poll=pass sse=pass download=pass\n", "no expectation for legacy"),
        ("# expect: poll=pass sse=maybe download=pass legacy=fail\n", "'sse=maybe'"),
        ("# expect: poll=pass stream=pass download=pass legacy=fail\n", "'stream=pass'"),
        ("server {}\n# expect: poll=pass sse=pass download=pass legacy=fail\n", "no expectation for poll"),
    ],
)
def test_malformed_headers_are_refused(tmp_path: Path, header: str, match: str) -> None:
    template = tmp_path / "bad.conf.j2"
    template.write_text(header + "server {}\n")
    with pytest.raises(ConfigError, match=match):
        load_proxy_config(template)


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ({"upstream": "localhost"}, "not host:port"),
        ({"upstream": "127.0.0.1:70000"}, "not host:port"),
        ({"listen_port": 0}, "not a TCP port"),
        ({"signing_secret": 'a"b'}, "signing_secret"),
        ({"signing_secret": "$uri"}, "signing_secret"),
        ({"artifact_dir": "/tmp/x\ny"}, "artifact_dir"),
        ({"time_scale": 0}, "out of range"),
    ],
)
def test_render_refuses_values_nginx_would_misread(tmp_path: Path, override: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        _render(load_proxy_config("recommended"), tmp_path, 0.05, **override)


def test_a_template_with_an_unknown_variable_does_not_render(tmp_path: Path) -> None:
    template = tmp_path / "typo.conf.j2"
    template.write_text("# expect: poll=pass sse=pass download=pass legacy=fail\nserver { listen {{ lisen }}; }\n")
    with pytest.raises(ConfigError, match=r"does not render.*lisen"):
        _render(load_proxy_config(template), tmp_path, 0.05)


# --- the timeout-chain model ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMED)
def test_model_predicts_what_the_header_expects(name: str) -> None:
    config = load_proxy_config(name)
    assert chain_timers(config, 0.05).predicted_verdicts() == dict(config.expectations)


@pytest.mark.parametrize(
    ("name", "poll", "sse", "download", "legacy", "heartbeat_limit"),
    [
        ("recommended", 15, 180, 180, 15, 180),
        ("nginx-defaults", 60, 60, 60, 60, 60),
        ("short", 15, 30, 15, 15, 30),
        ("buffered-sse", 15, 60, 180, 15, 0),
        ("cloudflare-edge", 100, 100, 100, 100, 100),
        ("alb-edge", 60, 60, 60, 60, 60),
        ("permissive", 300, 300, 300, 300, 300),
    ],
)
def test_model_reads_the_idle_timers_back_from_the_rendered_config(
    name: str, poll: float, sse: float, download: float, legacy: float, heartbeat_limit: float
) -> None:
    for scale in (1.0, 0.05, 0.02):
        chain = chain_timers(load_proxy_config(name), scale)
        idle = {flow: chain.flow(flow).idle_timeout_s for flow in FLOWS}
        assert idle == {"poll": poll, "sse": sse, "download": download, "legacy": legacy}, scale
        assert chain.predicted_legacy_limit() == legacy
        assert chain.predicted_sse_heartbeat_limit() == heartbeat_limit
        assert chain.on_clock(legacy) == pytest.approx(legacy * scale)


def test_model_names_the_hop_that_limits_each_flow() -> None:
    chain = chain_timers(load_proxy_config("cloudflare-edge"), 0.05)
    assert chain.hops == ("cloudflare-edge", "permissive")
    assert chain.flow("sse").limited_by == "cloudflare-edge: location /"
    assert chain.flow("legacy").limited_by == "cloudflare-edge: location /"  # the origin never cuts first
    assert not chain.flow("sse").buffered
    assert chain_timers(load_proxy_config("buffered-sse"), 0.05).flow("sse").buffered


def test_nginx_defaults_buffers_but_honours_the_services_opt_out() -> None:
    chain = chain_timers(load_proxy_config("nginx-defaults"), 0.05)
    assert not chain.flow("sse").buffered
    assert chain.predicted_verdicts(heartbeat_s=59)["sse"] == "pass"
    assert chain.predicted_verdicts(heartbeat_s=60)["sse"] == "fail"
    assert chain.predicted_verdicts(longest_job_s=59)["legacy"] == "pass"


def test_unknown_flow_is_named() -> None:
    with pytest.raises(ConfigError, match="unknown flow 'stream'"):
        chain_timers(load_proxy_config("recommended"), 0.05).flow("stream")


@pytest.mark.parametrize(("value", "seconds"), [("750ms", 0.75), ("60s", 60), ("60", 60), ("1m30s", 90), ("1h", 3600)])
def test_nginx_time_syntax(value: str, seconds: float) -> None:
    assert nginx_seconds(value) == seconds


@pytest.mark.parametrize("value", ["", "5x", "1.5s", "ms"])
def test_nginx_time_syntax_refuses_garbage(value: str) -> None:
    with pytest.raises(ConfigError):
        nginx_seconds(value)


def test_location_matching_follows_nginx_precedence() -> None:
    server = parse_nginx(
        """server {
            location / { a 1; }
            location /v1/ { a 2; }
            location ^~ /static/ { a 3; }
            location ~ "^/v1/[0-9]{3}$" { a 4; }
            location ~* \\.PNG$ { a 5; }
            location = /v1/exact { a 6; }
            location @named { a 7; }
        }"""
    ).children[0]  # type: ignore[index]

    def chosen(uri: str) -> str:
        location = match_location(server, uri)
        assert location is not None
        return location.own("a")[0]  # type: ignore[index]

    assert [chosen(u) for u in ("/x", "/v1/abc", "/static/a.png", "/v1/123", "/img/a.png", "/v1/exact")] == list(
        "123456"
    )
