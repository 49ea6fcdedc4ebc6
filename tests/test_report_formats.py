"""`nbsetup check` for CI systems: SARIF 2.1.0 (validated against the official schema), JUnit
XML, GitLab code quality, `--statistics`, `--exit-zero`, and rule selection (prefixes, `ALL`,
`[tool.nbsetup]`)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from nbsetup import selection
from nbsetup.cli import main
from nbsetup.diagnostics import CODES
from tests.builders import notebook, write

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / "requirements.txt").write_text("numpy==2.1\n")
    return tmp_path


def _flagged(path: Path) -> Path:
    """Two diagnostics: NBS002 (unpinned pandas) and NBS006 twice."""
    return write(
        path, notebook("import os", "!pip install numpy", "!pip install pandas\nimport pandas")
    )


def _codes(text: str) -> list[str]:
    """The codes of `check`'s text lines, in order."""
    return re.findall(r"^\S.*?:cell \d+:\d+:\d+: (NBS\d+) ", text, re.MULTILINE)


def _validate(log: object) -> None:
    jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(log)


def test_the_schema_file_is_a_valid_draft_4_schema():
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    assert SCHEMA["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"


def test_sarif_validates_against_the_schema_and_holds_every_diagnostic(runner, repo):
    flagged = _flagged(repo / "a b.ipynb")
    write(repo / "clean.ipynb", notebook("import os"))
    (repo / "broken.ipynb").write_text("{")
    result = runner.invoke(main, ["check", "--output-format", "sarif", str(repo)])
    assert result.exit_code == 2
    log = json.loads(result.stdout)
    _validate(log)
    run = log["runs"][0]
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == list(CODES)
    text = runner.invoke(main, ["check", str(flagged)])
    assert [r["ruleId"] for r in run["results"]] == _codes(text.stdout)
    first = run["results"][0]
    assert first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        flagged.as_uri()
    )
    assert first["message"]["text"].startswith("cell 2, line 1: ")
    assert run["tool"]["driver"]["rules"][first["ruleIndex"]]["id"] == first["ruleId"]
    (failure,) = run["invocations"][0]["toolExecutionNotifications"]
    assert failure["level"] == "error"
    assert failure["message"]["text"].startswith("not valid JSON")
    assert run["invocations"][0]["executionSuccessful"] is False
    assert result.stderr.splitlines()[0].startswith(f"{repo / 'broken.ipynb'}: error: ")


def test_sarif_of_a_clean_run_validates_and_relative_paths_stay_relative(
    runner, repo, monkeypatch
):
    monkeypatch.chdir(repo)
    _flagged(repo / "nb.ipynb")
    result = runner.invoke(main, ["check", "--output-format", "sarif", "--ignore", "ALL", "."])
    assert result.exit_code == 0
    log = json.loads(result.stdout)
    _validate(log)
    assert log["runs"][0]["results"] == []
    assert log["runs"][0]["invocations"] == [{"executionSuccessful": True}]
    flagged = runner.invoke(main, ["check", "--output-format", "sarif", "nb.ipynb"])
    _validate(json.loads(flagged.stdout))
    location = json.loads(flagged.stdout)["runs"][0]["results"][0]["locations"][0]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "nb.ipynb"


def test_a_broken_sarif_log_fails_the_schema():
    with pytest.raises(jsonschema.ValidationError):
        _validate({"version": "2.1.0", "runs": [{"tool": {"driver": {}}}]})  # driver needs name


def test_junit_parses_back_with_one_failure_per_diagnostic(runner, repo):
    flagged = _flagged(repo / "a.ipynb")
    clean = write(repo / "b.ipynb", notebook("import os"))
    broken = repo / "c.ipynb"
    broken.write_text("{")
    result = runner.invoke(main, ["check", "--output-format", "junit", str(repo)])
    assert result.exit_code == 2
    assert result.stdout.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(result.stdout.split("\n", 1)[1])
    assert root.tag == "testsuites"
    suites = {suite.get("name"): suite for suite in root}
    assert list(suites) == [str(flagged), str(clean), str(broken)]
    failures = suites[str(flagged)].findall("testcase/failure")
    text = runner.invoke(main, ["check", str(flagged)]).stdout.splitlines()
    assert [f.get("type") for f in failures] == _codes("\n".join(text))
    assert failures[0].text == text[0].replace(":cell 2:1:1:", ":cell 2, line 1:")
    assert suites[str(clean)].find("testcase").get("name") == "nbsetup check"
    assert list(suites[str(clean)].find("testcase")) == []
    error = suites[str(broken)].find("testcase/error")
    assert error.get("message").startswith("not valid JSON")
    counts = {key: int(root.get(key)) for key in ("tests", "failures", "errors")}
    assert counts == {"tests": len(failures) + 2, "failures": len(failures), "errors": 1}
    assert result.stderr.splitlines()[0].startswith(f"{broken}: error: ")


def test_gitlab_report_has_unique_fingerprints(runner, repo):
    flagged = _flagged(repo / "a.ipynb")
    result = runner.invoke(main, ["check", "--output-format", "gitlab", str(flagged)])
    assert result.exit_code == 1
    issues = json.loads(result.stdout)
    assert {issue["check_name"] for issue in issues} == {"NBS002", "NBS006"}
    assert len({issue["fingerprint"] for issue in issues}) == len(issues)
    assert issues[0]["location"] == {"path": str(flagged), "lines": {"begin": 1}}
    again = runner.invoke(main, ["check", "--output-format", "gitlab", str(flagged)])
    assert again.stdout == result.stdout  # stable across runs
    assert result.stderr == "1 file scanned: 1 flagged, 0 clean; 3 diagnostics\n"


def test_statistics_count_codes_in_text_and_json(runner, repo):
    flagged = _flagged(repo / "a.ipynb")
    result = runner.invoke(main, ["check", "--statistics", str(flagged)])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "2\tNBS006\tinstall outside the environment cell",
        "1\tNBS002\tunpinned install",
    ]
    assert result.stderr == "1 file scanned: 1 flagged, 0 clean; 3 diagnostics\n"
    as_json = runner.invoke(main, ["check", "--statistics", "--format", "json", str(flagged)])
    assert json.loads(as_json.stdout) == [
        {"code": "NBS006", "summary": "install outside the environment cell", "count": 2},
        {"code": "NBS002", "summary": "unpinned install", "count": 1},
    ]
    refused = runner.invoke(main, ["check", "--statistics", "--format", "sarif", str(flagged)])
    assert (refused.exit_code, refused.stdout) == (2, "")
    assert "--statistics is printed as text or json only" in refused.stderr


def test_exit_zero_keeps_the_report_but_not_the_failure(runner, repo):
    flagged = _flagged(repo / "a.ipynb")
    plain = runner.invoke(main, ["check", str(flagged)])
    result = runner.invoke(main, ["check", "--exit-zero", str(flagged)])
    assert (plain.exit_code, result.exit_code) == (1, 0)
    assert (result.stdout, result.stderr) == (plain.stdout, plain.stderr)
    (repo / "bad.ipynb").write_text("{")
    broken = runner.invoke(main, ["check", "--exit-zero", str(repo / "bad.ipynb")])
    assert broken.exit_code == 2  # a file that could not be checked still fails
    assert broken.stdout == ""


@pytest.mark.parametrize(
    ("selectors", "codes"),
    [
        pytest.param(["NBS"], set(CODES), id="prefix-of-all"),
        pytest.param(["ALL"], set(CODES), id="all"),
        pytest.param(["nbs00"], {c for c in CODES if c.startswith("NBS00")}, id="prefix"),
        pytest.param(["NBS002", "NBS006"], {"NBS002", "NBS006"}, id="codes"),
    ],
)
def test_selectors_expand_to_codes(selectors, codes):
    assert selection.expand(selectors) == codes


@pytest.mark.parametrize("selector", ["NBS9", "E", "", "ALLX"])
def test_a_selector_matching_nothing_is_refused(selector):
    with pytest.raises(ValueError, match="unknown diagnostic code or prefix"):
        selection.expand([selector])


def test_select_prefix_and_all_on_the_command_line(runner, repo):
    flagged = _flagged(repo / "a.ipynb")
    everything = runner.invoke(main, ["check", str(flagged)])
    for selector in ("NBS", "ALL", "nbs0"):
        result = runner.invoke(main, ["check", "--select", selector, str(flagged)])
        assert (result.exit_code, result.stdout) == (1, everything.stdout)
    only = runner.invoke(main, ["check", "--select", "ALL", "--ignore", "NBS006", str(flagged)])
    assert _codes(only.stdout) == ["NBS002"]


def test_select_ignore_and_per_file_ignores_in_pyproject(runner, repo):
    (repo / "pyproject.toml").write_text(
        "[tool.nbsetup]\n"
        'select = ["NBS00"]\n'
        'ignore = ["NBS002"]\n'
        '[tool.nbsetup.per-file-ignores]\n"drafts/*" = ["NBS006"]\n'
    )
    kept = _flagged(repo / "a.ipynb")
    (repo / "drafts").mkdir()
    draft = _flagged(repo / "drafts" / "d.ipynb")
    result = runner.invoke(main, ["check", str(repo)])
    assert result.exit_code == 1
    assert [line.split(": NBS")[0] for line in result.stdout.splitlines()] == [
        f"{kept}:cell 2:1:1",
        f"{kept}:cell 3:1:1",
    ]
    assert _codes(result.stdout) == ["NBS006", "NBS006"]
    assert result.stderr == "2 files scanned: 1 flagged, 1 clean; 2 diagnostics\n"
    # --select replaces the file's select and ignore (as ruff's does); per-file ignores stay
    cli = runner.invoke(main, ["check", "--select", "NBS002,NBS006", str(draft)])
    assert _codes(cli.stdout) == ["NBS002"]


def test_an_unknown_code_in_pyproject_names_the_key(runner, repo):
    (repo / "pyproject.toml").write_text('[tool.nbsetup]\nignore = ["NBS9"]\n')
    path = _flagged(repo / "a.ipynb")
    result = runner.invoke(main, ["check", "-q", str(path)])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"{path}: error: {repo / 'pyproject.toml'}: [tool.nbsetup] ignore: expected an array of "
        'rule codes or prefixes, got "NBS9", which names no rule\n'
    )


def test_output_format_from_pyproject_and_the_option_wins(runner, repo, monkeypatch):
    (repo / "pyproject.toml").write_text('[tool.nbsetup]\noutput-format = "json"\n')
    monkeypatch.chdir(repo)
    path = _flagged(repo / "a.ipynb")
    configured = runner.invoke(main, ["check", str(path)])
    assert json.loads(configured.stdout)["schema"] == 1
    given = runner.invoke(main, ["check", "--output-format", "text", str(path)])
    assert given.stdout.startswith(f"{path}:cell 2:1:1: ")
