"""Which kernel a notebook is for: where the language is read from, and what unknown means."""

from __future__ import annotations

import pytest

from nbsetup.kernels import kernel_language, skip_reason
from tests.builders import notebook


@pytest.mark.parametrize(
    ("metadata", "language"),
    [
        pytest.param({"kernelspec": {"language": "Python", "name": "x"}}, "python", id="spec"),
        pytest.param({"language_info": {"name": "R"}}, "r", id="language-info"),
        pytest.param(
            {"kernelspec": {"language": "", "name": "python3"}, "language_info": {"name": ""}},
            "python",
            id="vertex-empty-strings",
        ),
        pytest.param({"kernelspec": {"name": "ir", "display_name": "R"}}, "r", id="name-ir"),
        pytest.param({"kernelspec": {"name": "julia-1.10"}}, "julia", id="name-julia"),
        pytest.param({"kernelspec": {"name": "conda-env-ml-py"}}, "python", id="name-conda-env"),
        pytest.param({"kernelspec": {"name": "my-team-kernel"}}, None, id="name-unknown"),
        pytest.param({}, None, id="nothing"),
        pytest.param({"kernelspec": {"language": 3}}, None, id="not-a-string"),
    ],
)
def test_kernel_language_is_read_in_order(metadata, language):
    assert kernel_language({"metadata": metadata, "cells": []}) == language


def test_unknown_and_empty_mean_python():
    vertex = notebook(metadata={"language_info": {"name": ""}}, language="")
    assert skip_reason(vertex) is None
    assert skip_reason(notebook(language=None)) is None


def test_a_kernel_name_that_names_another_language_is_skipped():
    r_kernel = notebook(language=None, metadata={"kernelspec": {"name": "ir"}})
    assert skip_reason(r_kernel) == "not a Python notebook (kernel language: r)"
    assert skip_reason(r_kernel, ("python", "r")) is None
