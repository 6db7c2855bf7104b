"""The embedded default snapshot ``xlfactor-demo``: a simulated market, labelled as such.

The shipped file is a packed snapshot (:mod:`xlfactor.snapshot.packed`) that
``load_snapshot()`` reads like any other source; this package only generates it.
``load_packaged_demo()`` decodes that file; ``generate_demo_snapshot()`` recomputes it (simulator, then the model builder; a test
proves the two are equal); ``write_demo_inputs()`` writes the simulated market in the
builder's input format with its truth. Regenerate the shipped file with
``python -m xlfactor.demo``.
"""

from __future__ import annotations

from xlfactor.demo.package import (
    DEMO_AS_OF,
    DEMO_FILE,
    generate_demo_snapshot,
    load_packaged_demo,
    write_demo_inputs,
    write_packaged_demo,
)

__all__ = [
    "DEMO_AS_OF",
    "DEMO_FILE",
    "generate_demo_snapshot",
    "load_packaged_demo",
    "write_demo_inputs",
    "write_packaged_demo",
]
