"""The embedded default snapshot ``xlfactor-demo``: a simulated market, labelled as such.

``load_packaged_demo()`` decodes the compact file shipped in the package;
``generate_demo_snapshot()`` recomputes it from the simulator (a test proves the two are
equal). Regenerate the shipped file with ``python -m xlfactor.demo``.
"""

from __future__ import annotations

from xlfactor.demo.package import (
    DEMO_AS_OF,
    DEMO_FILE,
    generate_demo_snapshot,
    load_packaged_demo,
    publish_snapshot,
    write_packaged_demo,
)

__all__ = [
    "DEMO_AS_OF",
    "DEMO_FILE",
    "generate_demo_snapshot",
    "load_packaged_demo",
    "publish_snapshot",
    "write_packaged_demo",
]
