"""Hostile and careless input to `portfolio new` and to project.yml and profile.yml: text is
data (never a template), paths stay inside their folder, the user's CSV is read whatever its
encoding and separator, and every refusal is one line that creates nothing."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from markdown_it import MarkdownIt

from site_builder.cli import main
from site_builder.config import inside, load_profile, load_project
from site_builder.errors import ProjectError

from .conftest import cli, heart_csv, tree

PAYLOAD = 'X {{ cycler.__init__.__globals__.os.system("touch MARKER") }}'
TEXTS = {
    "arithmetic": "{{ 7*7 }}",
    "code execution": PAYLOAD,
    "broken tag": "{% if %}",
    "open expression": "{{",
    "open tag": "{%",
    "comment": "{# hidden #}",
    "quotes": 'He said "it\'s" \\ fine',
    "markup": "</title><script>alert(1)</script>",
    "markdown": "[x](javascript:alert(1)) *em* `code` | a | ~~s~~ &amp; <!-- c --> # h",
    "list start": "- 1. item",
    "right to left": "تحليل البيانات \u202eevil",
    "yaml boolean": "yes",
    "yaml mapping": "a: b #c",
    "yaml document": "--- !!python/object:os.system",
}
PATH_RULE = "(relative, without '..', a drive or backslashes)"


def new(root: Path, *args: str):
    return cli(root, "new", *args, "--no-input")


def the_project(root: Path) -> Path:
    [project] = (root / "portfolio/projects").iterdir()
    return project


def new_files(before: dict[str, bytes], after: dict[str, bytes]) -> set[str]:
    return {path for path in after if before.get(path) != after[path]}


class Elements(HTMLParser):
    """The tags of an HTML fragment, and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text = ""

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)

    def handle_data(self, data) -> None:
        self.text += data


def readme_head(project: Path) -> tuple[list[str], str, str]:
    """The README's heading and first paragraph as GitHub's CommonMark renders them: the tags
    made, the heading's text and the paragraph's text."""
    head = "\n\n".join((project / "README.md").read_text().split("\n\n")[:2])
    html = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(head)
    heading, paragraph = Elements(), Elements()
    heading.feed(html.split("</h1>")[0])
    paragraph.feed(html.split("</h1>")[1])
    return heading.tags + paragraph.tags, heading.text, paragraph.text.strip()


@pytest.mark.parametrize("field", ["title", "summary"])
@pytest.mark.parametrize("case", list(TEXTS))
def test_text_is_data_never_a_template(portfolio_root, tmp_path, case, field):
    marker = tmp_path / "p"
    text = TEXTS[case].replace("MARKER", str(marker))
    args = [f"Case {text}"] if field == "title" else ["Plain", "--summary", text]
    value = args[-1]
    before = tree(tmp_path)
    result = new(portfolio_root, *args)
    assert result.exit_code == 0, result.output
    project = the_project(portfolio_root)
    assert result.output == f"created portfolio/projects/{project.name}\n"
    assert not marker.exists()
    assert all(path.startswith(str(project.relative_to(tmp_path)) + "/")
               for path in new_files(before, tree(tmp_path)))
    assert yaml.safe_load((project / "project.yml").read_text())[field] == value
    assert getattr(load_project(project), field) == value
    tags, heading, paragraph = readme_head(project)
    assert tags == ["h1", "p"]
    assert (heading, paragraph) == ((value, "A predictive-modelling project worked through the "
                                     "five steps.") if field == "title" else ("Plain", value))


def test_prompted_answers_are_data_too(portfolio_root, tmp_path, monkeypatch):
    marker = tmp_path / "p"
    title = PAYLOAD.replace("MARKER", str(marker))
    monkeypatch.chdir(portfolio_root)
    answers = f"{title}\n{{{{ 7*7 }}}} {{% if %}}\ntime-series-forecasting\n3\n"
    result = CliRunner().invoke(main, ["new", "{{ 6*6 }}"], input=answers)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "Project title [{{ 6*6 }}]: " + title
    assert not marker.exists()
    config = load_project(the_project(portfolio_root))
    assert (config.title, config.summary, config.problem_type, config.seed) == (
        title, "{{ 7*7 }} {% if %}", "time-series-forecasting", 3)


@pytest.mark.parametrize("args, message", [
    (["A\nB"], "title: holds the control character U+000A; write it on one line without "
               "control characters"),
    (["A\x00B"], "title: holds the control character U+0000; write it on one line without "
                 "control characters"),
    (["A\u2028B"], "title: holds the control character U+2028; write it on one line without "
                   "control characters"),
    (["Plain", "--summary", "red \x1b[31m"], "--summary: holds the control character U+001B; "
                                             "write it on one line without control characters"),
    (["{{"], "title '{{': gives no usable folder name; pass --slug with letters or digits"),
    (["\n"], "title '\\n': gives no usable folder name; pass --slug with letters or digits"),
    (["x" * 201], "title: longer than 200 characters (201); shorten it"),
    (["Plain", "--slug", "s" * 101], "--slug: longer than 100 characters (101); shorten it"),
    (["Plain", "--slug", "{{ 7*7 }}"], "--slug: '{{ 7*7 }}' is not a slug (lowercase letters, "
                                       "digits and dashes)"),
], ids=["newline", "nul", "line separator", "escape in summary", "no slug", "only a newline",
        "title of 201", "slug of 101", "template as slug"])
def test_bad_text_is_one_line_and_creates_nothing(portfolio_root, args, message):
    before = tree(portfolio_root)
    result = new(portfolio_root, *args)
    assert (result.exit_code, result.output) == (1, f"Error: {message}\n")
    assert tree(portfolio_root) == before


def test_a_title_of_200_characters_fits_a_folder_name(portfolio_root):
    title = "word " * 39 + "last!"
    assert len(title) == 200
    result = new(portfolio_root, title)
    assert result.exit_code == 0, result.output
    project = the_project(portfolio_root)
    assert len(project.name) <= 100 and project.name.startswith("word-word-")
    assert load_project(project).title == title


@pytest.mark.parametrize("name", ["yes.csv", "a: b.csv", "#c.csv", "{{ 7*7 }}.csv", "x'\"y.csv"])
def test_any_data_file_name_gives_a_valid_project_yml(portfolio_root, tmp_path, name):
    csv = heart_csv(tmp_path / name)
    result = new(portfolio_root, "Heart", "--data", str(csv), "--target", "disease")
    assert result.exit_code == 0, result.output
    project = portfolio_root / "portfolio/projects/heart"
    config = load_project(project)
    assert (config.dataset.name, config.dataset.path) == (csv.stem, f"data/raw/{name}")
    assert (project / "data/raw" / name).read_bytes() == csv.read_bytes()


def test_a_data_file_name_with_a_line_break_is_refused(portfolio_root, tmp_path):
    csv = heart_csv(tmp_path / "a\nb.csv")
    before = tree(portfolio_root)
    result = new(portfolio_root, "Heart", "--data", str(csv), "--target", "disease")
    assert (result.exit_code, result.output) == (
        1, "Error: --data: holds the control character U+000A; write it on one line without "
           "control characters\n")
    assert tree(portfolio_root) == before


# The user's CSV files: (file name, encoding, separator, problem options, what `new` says).
CLASSES = ["--target", "y"]
SERIES = ["--problem", "time-series-forecasting", "--date-column", "when", "--value-column", "v"]
CONVERTED = {
    "latin-1 semicolons": ("villes.csv", "latin-1", ";", CLASSES,
                           "read as cp1252 with ';' separators; saved as UTF-8 with commas"),
    "utf-8 tabs": ("houses.csv", "utf-8", "\t", ["--problem", "tabular-regression",
                                                 "--target", "y"],
                   "read as utf-8 with tab separators; saved as UTF-8 with commas"),
    "utf-8 semicolons": ("sales.csv", "utf-8", ";", SERIES,
                         "read as utf-8 with ';' separators; saved as UTF-8 with commas"),
    "utf-16 tabs": ("excel.csv", "utf-16", "\t", CLASSES,
                    "read as utf_16 with tab separators; saved as UTF-8 with commas"),
    "utf-8 with a byte-order mark": ("bom.csv", "utf-8-sig", ",", CLASSES,
                                     "read as utf-8-sig with ',' separators; saved as UTF-8 "
                                     "with commas"),
}


def table(rows: int = 40) -> pd.DataFrame:
    return pd.DataFrame({
        "when": pd.date_range("2020-01-01", periods=rows).strftime("%Y-%m-%d"),
        "ville": ["Besançon", "Málaga", "España", "Zoé"] * (rows // 4),
        "v": [round(i * 1.5, 1) for i in range(rows)],
        "y": [i % 2 for i in range(rows)],
    })


@pytest.mark.parametrize("case", list(CONVERTED))
def test_csv_in_another_encoding_or_separator_is_kept_as_utf8_with_commas(
        portfolio_root, tmp_path, case):
    name, encoding, separator, options, note = CONVERTED[case]
    source = tmp_path / name
    source.write_bytes(table().to_csv(sep=separator, index=False).encode(encoding))
    result = new(portfolio_root, "Own data", "--data", str(source), *options)
    assert result.exit_code == 0, result.output
    saved = f"portfolio/projects/own-data/data/raw/{name}"
    assert result.output == f"{saved}: {note}\ncreated portfolio/projects/own-data\n"
    assert (portfolio_root / saved).read_bytes() == table().to_csv(index=False).encode("utf-8")
    load_project(portfolio_root / "portfolio/projects/own-data")


def _bad_csv(tmp: Path, case: str) -> tuple[list[str], str]:
    """The options for a bad CSV file, and the message `new` gives."""
    path = tmp / "data.csv"
    frame = table()
    regression = ["--problem", "tabular-regression", "--target", "y"]
    options = CLASSES
    if case == "empty target":
        frame["y"] = None
        message = "target column 'y' has no values; fill it in or choose another --target"
    elif case == "empty regression target":
        frame["y"], options = None, regression
        message = "target column 'y' has no values; fill it in or choose another --target"
    elif case == "empty value column":
        frame["v"], options = None, SERIES
        message = "value column 'v' has no values; fill it in or choose another --value-column"
    elif case == "empty feature":
        frame["ville"] = None
        message = "column 'ville' has no values; fill it in or remove the column from the file"
    elif case == "empty regression feature":
        frame["v"], options = None, regression
        message = "column 'v' has no values; fill it in or remove the column from the file"
    elif case == "one column":
        frame = frame[["y"]]
        message = ("no column separator found (a comma, semicolon, tab or '|' the same number "
                   "of times on each line); a CSV file needs a header line and two or more "
                   "columns")
    elif case == "empty file":
        frame = None
        message = "the file is empty"
    else:  # semicolons and a column name that does not exist
        options = ["--target", "outcome"]
        message = "no column 'outcome' (columns: when, ville, v, y)"
    path.write_text("" if frame is None else frame.to_csv(sep=";", index=False))
    return [str(path), *options], f"Error: {path}: {message}\n"


@pytest.mark.parametrize("case", ["empty target", "empty regression target", "empty value column",
                                  "empty feature", "empty regression feature", "one column",
                                  "empty file", "no such column"])
def test_bad_csv_is_named_at_new(portfolio_root, tmp_path, case):
    args, message = _bad_csv(tmp_path, case)
    before = tree(portfolio_root)
    result = new(portfolio_root, "Own data", "--data", *args)
    assert (result.exit_code, result.output) == (1, message)
    assert tree(portfolio_root) == before


# project.yml and profile.yml as a careless or hostile owner writes them.
def project_dir(tmp_path: Path, **fields) -> Path:
    project = tmp_path / "proj"
    project.mkdir(exist_ok=True)
    settings = {"title": "T", "slug": "proj", "problem_type": "tabular-classification",
                "model": "MLP", "dataset": {"name": "d", "source": "builtin"},
                "metric": {"name": "accuracy", "direction": "maximize"}, **fields}
    (project / "project.yml").write_text(yaml.safe_dump(settings))
    return project


def project_error(project: Path) -> str:
    with pytest.raises(ProjectError) as caught:
        load_project(project, "proj/project.yml")
    return caught.value.message


def profile_error(path: Path) -> str:
    with pytest.raises(ProjectError) as caught:
        load_profile(path, "portfolio/profile.yml")
    return caught.value.message


@pytest.mark.parametrize("photo", ["../../../../etc/hostname", "/etc/hostname", "..",
                                   "img\\me.jpg", "C:/me.jpg", "C:me.jpg", ".", "img/../../me.jpg"])
def test_profile_photo_outside_the_portfolio_is_refused(tmp_path, photo):
    path = tmp_path / "profile.yml"
    path.write_text(yaml.safe_dump({"name": "N", "photo": photo}))
    assert profile_error(path) == (f"portfolio/profile.yml: field 'photo': must be a path inside "
                                   f"portfolio/ {PATH_RULE}, not {photo!r}")


@pytest.mark.parametrize("photo", ["photo.html", "profile.yml", "img/me.svg.js", "me"])
def test_profile_photo_must_be_an_image_file(tmp_path, photo):
    """The photo is copied into the site as it is: an HTML 'photo' would be a live page."""
    path = tmp_path / "profile.yml"
    path.write_text(yaml.safe_dump({"name": "N", "photo": photo}))
    assert profile_error(path) == ("portfolio/profile.yml: field 'photo': must be an image file "
                                   f"(.png, .jpg, .jpeg, .webp, .gif, .avif, .svg), not {photo!r}")


def test_a_tag_longer_than_a_file_name_allows_is_refused(tmp_path):
    project = project_dir(tmp_path, tags=["ok", "long tag " * 7])
    assert project_error(project) == ("proj/project.yml: field 'tags.1': longer than 60 characters "
                                      "(63); shorten it")


def test_profile_photo_inside_is_kept(tmp_path):
    path = tmp_path / "profile.yml"
    path.write_text("name: N\nphoto: img/me.jpg\n")
    assert load_profile(path).photo == "img/me.jpg"


@pytest.mark.parametrize("field, value, message", [
    ("cover", "../../../../etc/passwd", f"field 'cover': must be a path inside export/figures/ "
                                        f"{PATH_RULE}, not '../../../../etc/passwd'"),
    ("cover", "/etc/passwd", f"field 'cover': must be a path inside export/figures/ "
                             f"{PATH_RULE}, not '/etc/passwd'"),
    ("dataset", {"name": "d", "source": "file", "path": "../../../secret.csv"},
     f"field 'dataset.path': must be a path inside the project folder {PATH_RULE}, not "
     "'../../../secret.csv'"),
    ("dataset", {"name": "d", "source": "file", "path": "/etc/passwd"},
     f"field 'dataset.path': must be a path inside the project folder {PATH_RULE}, not "
     "'/etc/passwd'"),
], ids=["cover up", "cover absolute", "data up", "data absolute"])
def test_project_paths_outside_are_refused(tmp_path, field, value, message):
    project = project_dir(tmp_path, **{field: value})
    assert project_error(project) == f"proj/project.yml: {message}"


def test_inside_follows_symbolic_links(tmp_path):
    portfolio = tmp_path / "portfolio"
    (portfolio / "img").mkdir(parents=True)
    (portfolio / "img/me.jpg").write_bytes(b"jpg")
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    (portfolio / "me.jpg").symlink_to(secret)
    (portfolio / "out").symlink_to(tmp_path)
    (portfolio / "mine.jpg").symlink_to(portfolio / "img/me.jpg")
    assert inside(portfolio, "img/me.jpg", "portfolio/profile.yml", "photo") == \
        (portfolio / "img/me.jpg").resolve()
    assert inside(portfolio, "mine.jpg", "portfolio/profile.yml", "photo") == \
        (portfolio / "img/me.jpg").resolve()
    for rel, leads_to in [("me.jpg", secret), ("out/secret.txt", secret),
                          ("../secret.txt", secret), ("/etc/hostname", Path("/etc/hostname"))]:
        with pytest.raises(ProjectError) as caught:
            inside(portfolio, rel, "portfolio/profile.yml", "photo")
        assert caught.value.message == (f"portfolio/profile.yml: field 'photo': must be a path "
                                        f"inside portfolio/, but {rel!r} leads to "
                                        f"{leads_to.resolve()}")


NOT_ONE_LINE = "write it on one line without control characters"


@pytest.mark.parametrize("text, message", [
    ('title: "A\\0B"\n', f"field 'title': holds the control character U+0000; {NOT_ONE_LINE}"),
    ('title: "A\\nB"\n', f"field 'title': holds the control character U+000A; {NOT_ONE_LINE}"),
    ('title: "A\\uD800"\n', "not valid YAML (line 1)"),
    ("title: A\x00B\n", "not valid YAML (line 1: the control character U+0000)"),
    ("tags: [ok, \"a\\tb\"]\n", f"field 'tags.1': holds the control character U+0009; "
                                f"{NOT_ONE_LINE}"),
    ("model_card: {limitations: \"\\e[31m\"}\n", "field 'model_card.limitations': holds the "
                                                 "control character U+001B; only line breaks "
                                                 "and tabs are allowed"),
    (f"title: {'x' * 201}\n", "field 'title': longer than 200 characters (201); shorten it"),
    ("title: A\ntitle: B\n", "field 'title': given twice (lines 1 and 2)"),
    ("tags: " + "[" * 30 + "]" * 30 + "\n", "fields nested more than 20 levels deep"),
], ids=["nul", "newline", "lone surrogate", "raw nul", "tab in tag", "escape in prose",
        "title of 201", "duplicate key", "deep nesting"])
def test_bad_text_in_project_yml_is_one_line(tmp_path, text, message):
    project = project_dir(tmp_path)
    settings = yaml.safe_load((project / "project.yml").read_text())
    key = text.split(":")[0]
    settings.pop(key, None)
    (project / "project.yml").write_text(text + yaml.safe_dump(settings))
    assert project_error(project) == f"proj/project.yml: {message}"


def test_prose_keeps_line_breaks_tabs_and_right_to_left_text(tmp_path):
    project = project_dir(tmp_path, title="تحليل \u202eA", model_card={
        "limitations": "One line.\n\tAnother."})
    config = load_project(project)
    assert (config.title, config.model_card.limitations) == ("تحليل \u202eA",
                                                             "One line.\n\tAnother.")


def test_settings_not_in_utf8_are_one_line(tmp_path):
    project = project_dir(tmp_path)
    path = project / "project.yml"
    path.write_bytes(path.read_text().replace("title: T", "title: Café").encode("latin-1"))
    offset = path.read_bytes().index(b"\xe9")
    assert project_error(project) == (f"proj/project.yml: not UTF-8 text (byte 0xe9 at offset "
                                      f"{offset}); save it as UTF-8")
    profile = tmp_path / "profile.yml"
    profile.write_bytes("name: José\n".encode("cp1252"))
    assert profile_error(profile) == ("portfolio/profile.yml: not UTF-8 text (byte 0xe9 at "
                                      "offset 9); save it as UTF-8")


def test_a_huge_settings_file_is_refused_unread(tmp_path):
    profile = tmp_path / "profile.yml"
    profile.write_text("name: N\nbio: " + "x" * 1_000_000 + "\n")
    assert profile_error(profile) == ("portfolio/profile.yml: 1,000,014 bytes; a settings file "
                                      "is at most 1,000,000 bytes")


def test_nesting_that_crashes_libyaml_is_refused_before_it_is_parsed(tmp_path):
    profile = tmp_path / "profile.yml"
    profile.write_text("name: N\nlinks: " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert profile_error(profile) == "portfolio/profile.yml: fields nested more than 20 levels deep"
