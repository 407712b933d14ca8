"""Refuse a project whose title gives no usable folder name (the logic lives in the package)."""

import sys

from site_builder.scaffold import TemplateError, check_slug

try:
    check_slug("{{ cookiecutter.project_slug }}")
except TemplateError as exc:
    print(exc, file=sys.stderr)
    sys.exit(1)
