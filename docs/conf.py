"""Sphinx configuration of padlab's documentation.

Build: ``python -m sphinx -W -b html docs docs/_build/html`` (warnings are errors).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent / "src"))  # the padlab of this checkout, installed or not

os.environ.setdefault("MPLBACKEND", "Agg")

import padlab  # noqa: E402

project = "padlab"
author = "padlab developers"
copyright = "2026, padlab developers"
release = padlab.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "padlab_rules",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/*.ipynb"]
html_static_path = ["_static"]
html_css_files = ["padlab.css"]
html_theme = "pydata_sphinx_theme"
html_title = f"padlab {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": {"**": ["page-toc"], "rules": [], "index": []},
    "footer_start": ["copyright"],
    "footer_end": [],
}
# light by default: the gallery's matplotlib figures have white backgrounds (and the theme's
# script needs a valid mode on a first visit)
html_context = {"default_mode": "light"}
html_sidebars = {"index": [], "install": [], "rules": []}
# the rules page needs the width for its table of names; its table links every rule
html_show_sourcelink = False

# API reference: autosummary writes a page per object from the numpydoc docstrings
autosummary_generate = True
autosummary_imported_members = False
autodoc_typehints = "none"  # numpydoc's Parameters sections already give the types
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# the gallery: every examples/plot_*.py, executed at build time
sphinx_gallery_conf = {
    "examples_dirs": [str(HERE.parent / "examples")],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    "within_subsection_order": "gallery_order.ExampleOrder",
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "min_reported_time": 1,
    "show_memory": False,
    "plot_gallery": "True",
    "copyfile_regex": r"",
}

suppress_warnings: list[str] = []
nitpicky = False
