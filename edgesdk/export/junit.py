"""JUnit XML for CI: one test case per artifact (model x backend x precision) with its figures.

Example:
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "v.xml"
    >>> _ = write_junit(out, "edgesdk.validate", [{"model": "m", "backend": "onnx",
    ...     "precision": "int8", "passed": False, "mpjpe_delta_mm": 4.2}])
    >>> 'failures="1"' in out.read_text()
    True
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgesdk.io import write_text_atomic


def write_junit(path: Path | str, suite: str, reports: Sequence[dict[str, Any]]) -> Path:
    """One ``<testcase>`` per report (``model``, ``backend``, ``precision``, ``passed``); its
    figures go in ``<system-out>`` as JSON, a failure's reason in ``<failure>``."""
    failures = sum(1 for r in reports if not r.get("passed"))
    root = ET.Element(
        "testsuite", name=suite, tests=str(len(reports)), failures=str(failures), errors="0"
    )
    for r in reports:
        case = ET.SubElement(
            root,
            "testcase",
            classname=f"{suite}.{r.get('model', '?')}",
            name=f"{r.get('backend', '?')}-{r.get('precision', '?')}",
        )
        figures = {k: v for k, v in r.items() if not isinstance(v, dict | list)}
        if not r.get("passed"):
            reason = r.get("reason") or ", ".join(
                f"{k}={v}" for k, v in figures.items() if k.endswith("_mm") or k == "finite"
            )
            ET.SubElement(case, "failure", message=str(reason)[:500])
        ET.SubElement(case, "system-out").text = json.dumps(r, default=str)
    ET.indent(root)
    text = ET.tostring(root, encoding="unicode", xml_declaration=True)
    return write_text_atomic(path, text + "\n")
