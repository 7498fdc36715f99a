"""Sphinx configuration of the series' site (``make site``; staged and built by ``tools/site.py``).

The pages are the executed notebooks, rendered as they ran (MyST-NB executes nothing here),
and the README as the front page.
"""

import os

project = "Semi-Supervised GANs, step by step"
author = "The SGAN teaching notebooks' authors"
extensions = ["myst_nb"]
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]

nb_execution_mode = "off"  # the notebooks come executed: by the test suite or by `make notebooks`
nb_output_stderr = "remove"  # TensorFlow's and tqdm's stderr lines are not part of a lesson
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "html_image"]
myst_heading_anchors = 3
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header"]

html_theme = "sphinx_book_theme"
html_title = project
html_theme_options = {
    "repository_url": os.environ.get("SGAN_REPOSITORY_URL", ""),
    "use_repository_button": True,
    "repository_branch": "main",
    "path_to_docs": "",
    "launch_buttons": {"colab_url": "https://colab.research.google.com",
                       "binderhub_url": "https://mybinder.org", "notebook_interface": "jupyterlab"},
    "show_toc_level": 2,
}
smartquotes = False  # code names and quotes read as written
html_context = {"default_mode": "light"}  # the theme's light/dark switch starts from this
