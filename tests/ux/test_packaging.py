"""Issue 17: `pip install` prints no setuptools deprecation warning for `project.license`."""

from __future__ import annotations

import re
import tomllib

from support import ROOT


def test_license_is_an_spdx_string_with_a_setuptools_that_reads_it():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["license"] == "MIT"  # a table ({text = ...}) is deprecated since setuptools 77
    req = next(r for r in meta["build-system"]["requires"] if r.startswith("setuptools"))
    assert int(re.search(r">=\s*(\d+)", req).group(1)) >= 77  # the first version that reads an SPDX string
