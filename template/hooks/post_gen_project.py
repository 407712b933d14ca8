"""Keep the notebooks of the chosen problem type (the logic lives in the package)."""

from pathlib import Path

from site_builder.scaffold import select_notebooks

select_notebooks(Path.cwd(), "{{ cookiecutter.problem_type }}")
