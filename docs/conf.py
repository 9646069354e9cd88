# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Sphinx settings of the collection's documentation site; `scripts/docs` builds it into docs/_build/html."""

from pathlib import Path

project = "mesosphere.cluster"
copyright = "mesosphere.cluster contributors"  # noqa: A001 - the name Sphinx reads
title = "mesosphere.cluster documentation"
html_short_title = "mesosphere.cluster"

extensions = ["sphinx_antsibull_ext"]

pygments_style = "ansible"
highlight_language = "YAML+Jinja"

html_theme = "sphinx_ansible_theme"
html_show_sphinx = False
display_version = False
html_use_smartypants = True
html_use_modindex = False
html_use_index = False
html_copy_source = False

default_role = "any"
nitpicky = True

# Links to Ansible's own documentation resolve through an inventory that `scripts/docs` writes
# from the installed ansible-core (docs/ansible_core_inventory.py): the build runs offline.
extensions.append("sphinx.ext.intersphinx")
intersphinx_mapping = {
    "ansible_devel": ("https://docs.ansible.com/projects/ansible/devel/",
                      str(Path(__file__).resolve().parent / "_build" / "ansible_devel.inv")),
}
intersphinx_disabled_reftypes = []
