"""Text that `portfolio init` and `portfolio new` put in as an example and that must not be
published: the profile's placeholders (read from the example profile that init copies) and
the summary a new project gets when none is given."""

from __future__ import annotations

from pathlib import Path

import yaml

from .layout import Portfolio

PROFILE_EXAMPLE = Path(__file__).resolve().parent / "init_files" / "profile.yml"
# What `portfolio new` writes into project.yml without --summary.
TEMPLATE_SUMMARY = "A predictive-modelling project worked through the five steps."
# The example account of the example profile's links: any address under it is one too.
EXAMPLE_ACCOUNT = "your-account"


def _read_yaml(path: Path) -> dict:
    """A file's mapping, or {} where it is missing or not one (check reports those itself)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:37] + "...")


def _urls(profile: dict) -> list[tuple[str, str]]:
    """(where in the profile, the address) for the repository and every link."""
    found = [("field 'repository'", profile.get("repository"))]
    links = profile.get("links")
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict):
            found.append((f"link '{link.get('label', '')}'", link.get("url")))
    return [(where, url) for where, url in found if isinstance(url, str)]


def profile_placeholders(profile: dict, example: dict) -> list[str]:
    found = [f"field '{key}' is still the example {_shown(value)}"
             for key, value in example.items()
             if isinstance(value, str) and profile.get(key) == value and key != "repository"]
    example_urls = {url for _, url in _urls(example)}
    found += [f"{where} is still the example address {url}" for where, url in _urls(profile)
              if url in example_urls or f"/{EXAMPLE_ACCOUNT}/" in f"{url}/"]
    return found


def find_placeholders(portfolio: Portfolio) -> list[tuple[str, str]]:
    """(file, what) for every placeholder left in the profile and the projects' project.yml."""
    found = [(portfolio.rel(portfolio.profile_file), what) for what in
             profile_placeholders(_read_yaml(portfolio.profile_file), _read_yaml(PROFILE_EXAMPLE))]
    for project in portfolio.projects():
        if _read_yaml(project.config_file).get("summary") == TEMPLATE_SUMMARY:
            found.append((portfolio.rel(project.config_file), "field 'summary' is still the "
                          f"template's default {_shown(TEMPLATE_SUMMARY)}"))
    return found
