"""check names the profile's links that the site leaves out."""

from __future__ import annotations

from .conftest import cli


def test_a_profile_link_the_site_drops_is_a_finding(portfolio_root):
    profile = portfolio_root / "portfolio/profile.yml"
    profile.write_text(profile.read_text().replace("repository: https://github.com/test-person/portfolio",
                                                   "repository: ' JaVaScRiPt:alert(1)'")
                       + "  - label: Blog\n    url: javascript:alert(1)\n"
                       + "  - label: Mail\n    url: mailto:me@example.org\n")
    result = cli(portfolio_root, "check")
    assert result.exit_code == 1
    why = "the site leaves it out: only http, https, mailto and relative links are shown"
    assert result.output.splitlines() == [
        f"portfolio/profile.yml: link 'Blog' has the address 'javascript:alert(1)', {why}",
        f"portfolio/profile.yml: field 'repository' has the address ' JaVaScRiPt:alert(1)', {why}",
        "Error: 2 finding(s) (unsafe-link)",
    ]
