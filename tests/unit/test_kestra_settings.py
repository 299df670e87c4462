"""The Kestra settings (project.kestra) that end up in the flows and as arguments of git (issue 12).

- M11: a token in `repository` would be committed in kestra-flows/*.yml; it is refused, and
  `repository_token: {secret: NAME}` renders Kestra's `{{ secret('NAME') }}`, handed to git by a
  credential helper for the repository's host only.
- git option injection and path escape: repository, branch, catalog_path and namespace can never be
  read by git as an option, a remote helper (ext::) or a path out of the clone.
- '---' in any value that reaches a flow is a located catalog error, not a traceback.

The git behaviour is checked with the real git binary and sh, on local repositories.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from aipair.catalog import load_catalog
from aipair.catalog.loader import parse_catalog
from aipair.errors import CatalogError, UsageError
from aipair.ops.flows import flow_ref
from aipair.render.files import render_flows
from aipair.render.kestra import CLONE, render_kestra_flows

from ..helpers.catalogs import dump
from ..helpers.paths import DEFAULT_CATALOG

TOKEN = "ghp_S3cretT0kenValue"
BASE = yaml.safe_load(DEFAULT_CATALOG.read_text())


def _catalog_text(kestra: dict[str, Any] | None = None, **project: Any) -> str:
    data = copy.deepcopy(BASE)
    if kestra is not None:
        data["project"]["kestra"] = kestra
    data["project"].update(project)
    return dump(data)


def _kestra(**settings: Any) -> dict[str, Any]:
    return {"repository": "https://github.com/ai-pair/platform.git", **settings}


def _problem(text: str) -> str:
    with pytest.raises(CatalogError) as raised:
        parse_catalog(text, source="cat.yaml")
    return str(raised.value)


def _line_of(text: str, needle: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), 1) if needle in line)


def _flow_tasks(node: Any) -> list[dict[str, Any]]:
    """Every task that runs git (has commands), wherever it sits in the flow."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if "commands" in node:
            found.append(node)
        for value in node.values():
            found += _flow_tasks(value)
    elif isinstance(node, list):
        for item in node:
            found += _flow_tasks(item)
    return found


# --- M11: credentials never in the repository URL -------------------------------------------------


@pytest.mark.parametrize(
    "repository",
    [
        f"https://user:{TOKEN}@github.com/ai-pair/platform.git",
        f"https://{TOKEN}@github.com/ai-pair/platform.git",  # GitHub takes a token as the user name
        f"https://x-access-token:{TOKEN}@github.com/ai-pair/platform.git?ref=main",
        f"http://user:{TOKEN}@git.example.com/platform.git",
        f"ssh://git:{TOKEN}@git.example.com/platform.git",
        f"git:{TOKEN}@github.com:ai-pair/platform.git",  # scp-like form
        f"https://user:{TOKEN} @github.com/p.git",  # also a forbidden character: still no echo
        f"HTTPS://oauth2:{TOKEN}@gitlab.com/p.git",
    ],
)
def test_a_repository_url_with_credentials_is_refused_without_echoing_them(repository: str) -> None:
    text = _catalog_text(_kestra(repository=repository))
    message = _problem(text)
    line = _line_of(text, "repository:")
    assert f"cat.yaml:{line}: project.kestra.repository:" in message
    assert "repository_token: {secret: GIT_TOKEN}" in message and "kestra-flows" in message
    assert TOKEN not in message


@pytest.mark.parametrize(
    "repository",
    [
        "git@github.com:ai-pair/platform.git",
        "ssh://git@git.example.com:2222/ai-pair/platform.git",
        "https://github.com/ai-pair/platform.git",
        "http://git.local:3000/platform.git",
        "git://git.example.com/platform.git",
        "file:///srv/git/platform.git",
        "/srv/git/platform.git",
    ],
)
def test_plain_repository_urls_and_paths_are_accepted(repository: str) -> None:
    catalog = parse_catalog(_catalog_text(_kestra(repository=repository)))
    assert catalog.project.kestra is not None and catalog.project.kestra.repository == repository


def test_the_token_reference_renders_as_a_kestra_secret_and_no_flow_holds_the_token() -> None:
    catalog = parse_catalog(_catalog_text(_kestra(repository_token={"secret": "GIT_TOKEN"})))
    flows = render_kestra_flows(catalog)
    tasks = [task for flow in flows.values() for task in _flow_tasks(flow)]
    assert [task["id"] for task in tasks] == ["validate", "propose", "check"]
    for task in tasks:
        env = task["env"]
        assert env["AIPAIR_REPOSITORY"] == "https://github.com/ai-pair/platform.git"
        assert env["AIPAIR_GIT_TOKEN"] == "{{ secret('GIT_TOKEN') }}"
        assert env["AIPAIR_GIT_USER"] == "x-access-token"
        assert env["GIT_CONFIG_KEY_0"] == "credential.https://github.com.helper"
        assert "AIPAIR_GIT_TOKEN" not in " ".join(task["commands"])  # only git's helper reads it
    for text in render_flows(catalog).files.values():
        written = yaml.safe_load(text)
        assert all(task["env"]["AIPAIR_GIT_TOKEN"] == "{{ secret('GIT_TOKEN') }}" for task in _flow_tasks(written))
        assert not re.search(r"://[^/\s]*@", text)  # no user or token in any URL of the committed file

    other = parse_catalog(
        _catalog_text(
            _kestra(
                repository="https://gitlab.example.com:8443/p.git",
                repository_token={"secret": "GITLAB_TOKEN", "username": "oauth2"},
            )
        )
    )
    env = _flow_tasks(render_kestra_flows(other)["watch-versions"])[0]["env"]
    assert env["GIT_CONFIG_KEY_0"] == "credential.https://gitlab.example.com:8443.helper"
    assert env["AIPAIR_GIT_USER"] == "oauth2" and env["AIPAIR_GIT_TOKEN"] == "{{ secret('GITLAB_TOKEN') }}"

    # without a token the flows carry no credential settings at all
    plain = _flow_tasks(render_kestra_flows(load_catalog(DEFAULT_CATALOG))["watch-versions"])[0]["env"]
    assert not {"AIPAIR_GIT_TOKEN", "GIT_CONFIG_COUNT"} & set(plain)


@pytest.mark.parametrize(
    "repository", ["git@github.com:ai-pair/platform.git", "http://git.local/p.git", "/srv/git/p.git"]
)
def test_a_token_is_only_for_an_https_repository(repository: str) -> None:
    text = _catalog_text(_kestra(repository=repository, repository_token={"secret": "GIT_TOKEN"}))
    message = _problem(text)
    assert "project.kestra.repository_token:" in message and "https://" in message


@pytest.mark.parametrize("token", [{"secret": "git-token"}, {"secret": "X", "username": "-u"}, {"name": "X"}])
def test_a_bad_token_reference_is_located(token: dict[str, str]) -> None:
    assert "project.kestra.repository_token" in _problem(_catalog_text(_kestra(repository_token=token)))


def _git_env(home: Path, extra: dict[str, str]) -> dict[str, str]:
    """Real git, isolated from this machine's configuration."""
    return {"PATH": os.environ["PATH"], "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C", **extra}


def test_real_git_gets_the_token_from_the_helper_for_the_repository_host_only(tmp_path: Path) -> None:
    catalog = parse_catalog(_catalog_text(_kestra(repository_token={"secret": "GIT_TOKEN"})))
    env = dict(_flow_tasks(render_kestra_flows(catalog)["watch-versions"])[0]["env"])
    env["AIPAIR_GIT_TOKEN"] = TOKEN  # what Kestra's secret() renders at run time

    def fill(host: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "credential", "fill"],
            input=f"protocol=https\nhost={host}\npath=ai-pair/platform.git\n\n",
            capture_output=True,
            text=True,
            env=_git_env(tmp_path, env),
            timeout=30,
        )

    mine = fill("github.com")
    assert mine.returncode == 0, mine.stderr
    assert f"username=x-access-token\npassword={TOKEN}\n" in mine.stdout
    elsewhere = fill("evil.example.com")  # a redirect or another remote gets nothing, and git does not prompt
    assert TOKEN not in elsewhere.stdout and elsewhere.returncode != 0


# --- git option injection ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "repository, message",
    [
        ("--upload-pack=touch /tmp/pwned", "printable ASCII"),
        ("--upload-pack=touch%/tmp/pwned", "must not start with '-'"),
        ("--config=core.sshCommand=touch", "must not start with '-'"),
        ("-oProxyCommand=touch:repo", "must not start with '-'"),
        ("ext::sh -c touch% /tmp/pwned", "printable ASCII"),
        ("ext::sh%-c%touch", "remote helper"),
        ("fd::17", "remote helper"),
        ("ssh://-oProxyCommand=touch/repo", "host"),
        ("git@-oProxyCommand=x:repo", "must not start with '-'"),
        ("host:-repo", "must not start with '-'"),
        ("ftp://git.example.com/p.git", "scheme"),
        ("https://github.com/p.git#{{ secret('X') }}", "printable ASCII"),
        ("https://github.com/p.git?private_token=abc", "'?"),
        ("file:///srv/../etc/repo", "normalised"),
        ("file://host/srv/repo", "file:///"),
        ("/srv/git/../../etc", "normalised"),
        ("/srv/git/-x/repo", "'-'"),
        ("relative/repo.git", "absolute path"),
        ("../repo.git", "absolute path"),
        ("caf\u00e9.example.com:p.git", "printable ASCII"),
    ],
)
def test_a_repository_git_would_read_as_an_option_helper_or_escape_is_refused(repository: str, message: str) -> None:
    text = _catalog_text(_kestra(repository=repository))
    problem = _problem(text)
    assert f"cat.yaml:{_line_of(text, 'repository:')}: project.kestra.repository:" in problem
    assert message in problem, problem


def _git_check_branch(name: str) -> bool:
    return subprocess.run(["git", "check-ref-format", "--branch", name], capture_output=True).returncode == 0


@pytest.mark.parametrize(
    "branch",
    [
        "--upload-pack=touch /tmp/pwned",
        "--upload-pack=touch",
        "-b",
        "-",
        "a..b",
        "/main",
        "main/",
        "a//b",
        ".hidden",
        "release/.x",
        "x.lock",
        "main.",
        "@",
    ],
)
def test_a_branch_git_would_refuse_or_read_as_an_option_is_refused(branch: str) -> None:
    text = _catalog_text(_kestra(branch=branch))
    assert f"cat.yaml:{_line_of(text, 'branch:')}: project.kestra.branch:" in _problem(text)
    assert not _git_check_branch(branch) or branch.startswith("-") or branch == "@"


@pytest.mark.parametrize("branch", ["main", "release/1.2", "feature-x", "v1.0_rc", "a.b/c-d"])
def test_branches_that_real_git_accepts_are_accepted(branch: str) -> None:
    catalog = parse_catalog(_catalog_text(_kestra(branch=branch)))
    assert catalog.project.kestra is not None and catalog.project.kestra.branch == branch
    assert _git_check_branch(branch)


@pytest.mark.parametrize(
    "path",
    [
        "../../etc/passwd",
        "/etc/passwd",
        "deploy/../../catalog.yaml",
        "./catalog.yaml",
        "deploy//catalog.yaml",
        "deploy/",
        "..",
        "-catalog.yaml",
        "deploy/--help",
        "deploy/./catalog.yaml",
    ],
)
def test_a_catalog_path_outside_the_clone_or_read_as_an_option_is_refused(path: str) -> None:
    text = _catalog_text(_kestra(catalog_path=path))
    assert f"cat.yaml:{_line_of(text, 'catalog_path:')}: project.kestra.catalog_path:" in _problem(text)


@pytest.mark.parametrize("path", ["catalog.yaml", "deploy/prod/catalog.yaml", "a-b_c.yml"])
def test_catalog_paths_inside_the_repository_are_accepted(path: str) -> None:
    catalog = parse_catalog(_catalog_text(_kestra(catalog_path=path)))
    env = _flow_tasks(render_kestra_flows(catalog)["watch-versions"])[0]["env"]
    assert env["AIPAIR_CATALOG"] == f"repo/{path}"


@pytest.mark.parametrize("namespace", ["-x", "a..b", "../x", "a/b", ".a", "a.", "A.b", "a b"])
def test_a_namespace_that_is_not_a_dotted_name_is_refused(namespace: str) -> None:
    text = _catalog_text(_kestra(namespace=namespace))
    assert "project.kestra.namespace:" in _problem(text)


def _run_clone(tmp_path: Path, repository: str, gitconfig: str = "") -> tuple[subprocess.CompletedProcess[str], Path]:
    """The flows' clone command, run by the real sh and git with a value the loader would refuse."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / ".gitconfig").write_text(gitconfig)
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    catalog = parse_catalog(_catalog_text(_kestra(repository="/srv/git/p.git")))
    env = dict(_flow_tasks(render_kestra_flows(catalog)["watch-versions"])[0]["env"])
    env["AIPAIR_REPOSITORY"] = repository
    done = subprocess.run(
        ["sh", "-c", CLONE], cwd=work, capture_output=True, text=True, env=_git_env(home, env), timeout=60
    )
    return done, work


def test_the_clone_command_never_reads_the_repository_as_an_option(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for hostile in (f"--upload-pack=touch {marker}", f"--config=core.sshCommand=touch {marker}", "-h"):
        done, _ = _run_clone(tmp_path, hostile)
        assert done.returncode != 0 and not marker.exists(), (hostile, done.stderr)


def test_the_flows_allow_git_no_remote_helper_even_if_the_runner_allows_ext(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    permissive = '[protocol]\n\tallow = always\n[protocol "ext"]\n\tallow = always\n'
    done, _ = _run_clone(tmp_path, f"ext::sh -c touch% {marker}", gitconfig=permissive)
    assert done.returncode != 0 and not marker.exists(), done.stderr
    assert "transport 'ext' not allowed" in done.stderr
    # the same command without the flows' GIT_ALLOW_PROTOCOL does run it: the guard is what stops it
    env = _git_env(tmp_path / "home", {"AIPAIR_REPOSITORY": f"ext::sh -c touch% {marker}", "AIPAIR_BRANCH": "main"})
    subprocess.run(["sh", "-c", CLONE], cwd=tmp_path / "work", capture_output=True, env=env, timeout=60)
    assert marker.exists()


def test_a_local_repository_still_clones_with_the_guards(tmp_path: Path) -> None:
    source = tmp_path / "source"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    env = _git_env(tmp_path, {})
    subprocess.run(["git", "init", "-q", "-b", "main", str(source)], check=True, env=env)
    (source / "catalog.yaml").write_text("version: 1\n")
    subprocess.run([*git, "-C", str(source), "add", "."], check=True, env=env)
    subprocess.run([*git, "-C", str(source), "commit", "-qm", "c"], check=True, env=env)
    done, work = _run_clone(tmp_path, f"file://{source}")
    assert done.returncode == 0, done.stderr
    assert (work / "repo" / "catalog.yaml").read_text() == "version: 1\n"


# --- '---' in a value that reaches the flows ----------------------------------------------------------


@pytest.mark.parametrize(
    "kestra, project, field, needle",
    [
        (_kestra(branch="feat---x"), {}, "project.kestra.branch", "branch:"),
        (_kestra(catalog_path="a---b.yaml"), {}, "project.kestra.catalog_path", "catalog_path:"),
        (_kestra(repository="https://h.example.com/a---b.git"), {}, "project.kestra.repository", "repository:"),
        (_kestra(namespace="a---b.platform"), {}, "project.kestra.namespace", "namespace: a---b"),
        (_kestra(timezone="America/Port---x"), {}, "project.kestra.timezone", "timezone:"),
        (_kestra(task_image="ghcr.io/a---b/aipair:1"), {}, "project.kestra.task_image", "task_image:"),
        (
            _kestra(repository_token={"secret": "T", "username": "a---b"}),
            {},
            "project.kestra.repository_token.username",
            "username:",
        ),
        (_kestra(), {"name": "my---app"}, "project.name", "name: my---app"),
        (_kestra(), {"domain": "my---site.example.com"}, "project.domain", "domain:"),
        (_kestra(), {"namespace": "team---a"}, "project.namespace", "namespace: team---a"),
    ],
)
def test_three_dashes_in_a_value_of_the_flows_is_a_located_catalog_error(
    kestra: dict[str, Any], project: dict[str, Any], field: str, needle: str
) -> None:
    text = _catalog_text(kestra, **project)
    message = _problem(text)
    assert f"cat.yaml:{_line_of(text, needle)}: {field}: must not contain '---'" in message, message


def test_three_dashes_are_fine_where_no_flow_uses_them() -> None:
    # the project namespace is not used when the flows have their own; other phases are not affected
    catalog = parse_catalog(_catalog_text(_kestra(namespace="aipair.platform"), namespace="team---a"))
    assert render_flows(catalog).files
    no_kestra = copy.deepcopy(BASE)
    del no_kestra["project"]["kestra"]
    no_kestra["project"]["name"] = "my---app"
    assert render_flows(parse_catalog(yaml.safe_dump(no_kestra))).files == {}


def test_render_flows_reports_three_dashes_as_a_catalog_error_even_for_a_catalog_built_in_code() -> None:
    catalog = load_catalog(DEFAULT_CATALOG)
    assert catalog.project.kestra is not None
    hostile = catalog.model_copy(
        update={
            "project": catalog.project.model_copy(
                update={"kestra": catalog.project.kestra.model_copy(update={"branch": "feat---x"})}
            )
        }
    )
    with pytest.raises(CatalogError) as raised:
        render_flows(hostile, source="catalog.yaml")
    assert "catalog.yaml: project.kestra.branch: must not contain '---'" in str(raised.value)


# --- flow references from the command line become URL paths of the Kestra API -----------------------


@pytest.mark.parametrize(
    "flow", ["../executions", "a/../../b", "ns/flow", "flow?x=1", "-flow", ".flow", "ns..flow", "flow.", "", "a b"]
)
def test_a_flow_reference_that_would_leave_its_url_path_is_refused(flow: str) -> None:
    with pytest.raises(UsageError, match="is not a flow"):
        flow_ref(load_catalog(DEFAULT_CATALOG), flow)


def test_flow_references_in_the_catalogs_namespace_or_another() -> None:
    catalog = load_catalog(DEFAULT_CATALOG)
    assert flow_ref(catalog, "validate-candidate") == ("aipair.platform", "validate-candidate")
    assert flow_ref(catalog, "team.ops.nightly_1") == ("team.ops", "nightly_1")
