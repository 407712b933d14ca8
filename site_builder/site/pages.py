"""The Markdown of each page, from the collected project views (pure functions)."""

from __future__ import annotations

import re
from collections import defaultdict

import yaml

from .. import STEP_TITLES, STEPS
from ..config import Profile
from ..modelcard import card_data, metric_label
from .collect import ProjectView
from .sanitize import (
    escape,
    fence,
    inert_in_markdown,
    link,
    markdown_to_html,
    md_text,
    plain,
    shift_headings,
    url_path,
)

# Cards whose thumbnails load with the page (one row on a wide screen); the rest load lazily.
EAGER_CARDS = 3
UNIT_METRICS = {"accuracy", "precision", "recall", "f1", "roc_auc", "r2"}
SKILLS = {
    "tabular-classification": "Classification of tabular data",
    "tabular-regression": "Regression on tabular data",
    "image-classification": "Image classification",
    "time-series-forecasting": "Time-series forecasting",
}


def fmt(value: float | None, metric: str) -> str:
    if value is None:
        return "—"
    if metric in UNIT_METRICS:
        return f"{value:.3f}"
    return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"


def dump_yaml(data) -> str:
    """YAML written by the YAML library: one line per scalar (MkDocs finds the end of the
    front matter by a line of its own), characters outside ASCII as they are."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=float("inf"))


def front_matter(title: str, description: str, search: bool = True,
                 image: str | None = None, hide: tuple[str, ...] = ()) -> str:
    """YAML front matter; `image` (a path from the site root) is the page's Open Graph image
    and `hide` lists Material's hidden parts of the page (navigation, toc). Material's
    templates put `title` and `description` into the page unescaped (<title>, <meta>, the
    header), as HTML: they are written here as escaped text."""
    meta: dict = {"title": escape(plain(title)), "description": escape(plain(description))}
    if image:
        meta["image"] = url_path(image)
    if hide:
        meta["hide"] = list(hide)
    if not search:
        meta["search"] = {"exclude": True}
    return f"---\n{dump_yaml(meta)}---\n"


def tag_slug(tag: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", tag.lower()).strip("-") or "tag"


def _better(view: ProjectView) -> str | None:
    """'better' / 'worse' than the baseline, in the metric's direction."""
    if not view.primary or not view.baseline or view.baseline["name"] != view.primary["name"]:
        return None
    sign = 1 if view.primary["direction"] == "maximize" else -1
    return "better" if sign * (view.primary["value"] - view.baseline["value"]) > 0 else "worse"


def interval_of(view: ProjectView) -> dict | None:
    """The interval of the test score (metrics.json: primary.interval), where it was recorded."""
    interval = (view.primary or {}).get("interval")
    return interval if isinstance(interval, dict) else None


def interval_level(interval: dict) -> str:
    """'95 %'."""
    return f"{round(interval['level'] * 100, 1):g} %"


def interval_span(interval: dict, metric: str) -> str:
    """'0.956–0.991'."""
    low, high = sorted((interval["low"], interval["high"]))
    return f"{fmt(low, metric)}–{fmt(high, metric)}"


def compact_interval(view: ProjectView) -> str:
    """' (95 % CI 0.956–0.991)' after a score where space is short; '' without an interval."""
    interval = interval_of(view)
    if not interval:
        return ""
    return f" ({interval_level(interval)} CI {interval_span(interval, view.config.metric.name)})"


def headline(view: ProjectView) -> str:
    """'accuracy 0.982 (95 % CI 0.956–0.991) · baseline 0.627 · reference 0.975'."""
    metric = view.config.metric.name
    parts = [f"**{md_text(metric_label(metric))} {fmt(view.primary and view.primary['value'], metric)}**"
             + compact_interval(view)]
    if view.baseline and view.baseline["name"] == metric:
        parts.append(f"baseline {fmt(view.baseline['value'], metric)}")
    if view.reference:
        parts.append(f"reference {fmt(view.reference['value'], metric)}")
    return " · ".join(parts)


# --- home page ---------------------------------------------------------------------------

def cover_image(views: list[ProjectView], images: dict[str, str]) -> str | None:
    """The portfolio's Open Graph image: the first project's."""
    return next((images[v.slug] for v in views if v.slug in images), None)


def card_cover(view: ProjectView) -> str | None:
    """The thumbnail of the figure the owner chose as the card's cover (project.yml: cover)."""
    return f"projects/{view.slug}/thumb.webp" if view.config.cover and view.cover() else None


def home_page(profile: Profile, views: list[ProjectView], images: dict[str, str]) -> str:
    out = [front_matter(profile.name, profile.headline or f"{profile.name}'s portfolio",
                        image=cover_image(views, images), hide=("navigation", "toc"))]
    out.append(f"# {md_text(profile.name)}\n")
    if profile.headline:
        out.append(f'<p class="pf-headline">{escape(plain(profile.headline))}</p>\n')
    if profile.bio:
        out.append(f"{md_text(profile.bio)}\n")
    if profile.links:
        out.append(" · ".join(link(item.label, item.url) for item in profile.links) + "\n")
    out.append(f"## Projects ({len(views)})\n")
    tags = sorted({t for v in views for t in v.config.tags})
    if tags:
        buttons = "".join(
            f'<button type="button" class="pf-tag" data-tag="{escape(tag_slug(t))}">'
            f"{escape(plain(t))}</button>" for t in tags)
        out.append(f'<div class="pf-filter" role="group" aria-label="Filter projects by tag">'
                   f'<button type="button" class="pf-tag pf-tag--on" data-tag="">all</button>'
                   f"{buttons}</div>\n")
    out.append('<div class="pf-cards" markdown>\n')
    for i, view in enumerate(views):
        out.append(card(view, eager=i < EAGER_CARDS))
    out.append("</div>\n")
    return "\n".join(out)


def card_chart(view: ProjectView) -> str:
    """The card's cover drawn for its size: the headline number large, and bars of the result
    against the baseline (and the reference); colours from the theme, light and dark."""
    metric = view.config.metric.name
    if not view.primary:
        return ""
    direction = "higher" if view.config.metric.direction == "maximize" else "lower"
    value = view.primary["value"]
    rows = [("this project", value, "pf-cc-result" + (" pf-cc-worse" if _better(view) == "worse"
                                                      else ""))]
    if view.baseline and view.baseline["name"] == metric:
        rows.append(("baseline", view.baseline["value"], "pf-cc-baseline"))
    if view.reference:
        rows.append(("reference", view.reference["value"], "pf-cc-reference"))
    interval = interval_of(view)
    ends = sorted((abs(interval["low"]), abs(interval["high"]))) if interval else []
    top = max([abs(r[1]) for r in rows] + ends) or 1.0
    parts = [f'<text x="12" y="50" class="pf-cc-big">{fmt(value, metric)}</text>',
             f'<text x="12" y="74" class="pf-cc-label">{escape(metric_label(metric))} · '
             f"{direction} is better</text>"]
    for i, (label, number, cls) in enumerate(rows):
        y = 92 + i * 22
        width = max(2.0, 120 * abs(number) / top)
        right = width
        parts.append(f'<text x="12" y="{y + 13}" class="pf-cc-label">{label}</text>'
                     f'<rect x="100" y="{y + 2}" width="{width:.1f}" height="14" class="{cls}"></rect>')
        if i == 0 and ends:  # the interval of the test score, drawn across the result's bar
            low, high = (100 + 120 * end / top for end in ends)
            right = max(width, high - 100)
            parts.append(f'<path d="M{low:.1f} {y + 9}H{high:.1f}M{low:.1f} {y + 4}V{y + 14}'
                         f'M{high:.1f} {y + 4}V{y + 14}" class="pf-cc-interval"></path>')
        parts.append(f'<text x="{106 + right:.1f}" y="{y + 13}" class="pf-cc-label">'
                     f"{fmt(number, metric)}</text>")
    said = "; ".join(f"{label} {fmt(number, metric)}" for label, number, _ in rows)
    if interval:
        said += f"; {interval_level(interval)} interval of this project {interval_span(interval, metric)}"
    return (f'<svg class="pf-card-chart" viewBox="0 0 280 {96 + 22 * len(rows)}" role="img" '
            f'aria-label="{escape(metric_label(metric))}: {said} ({direction} is better)">'
            + "".join(parts) + "</svg>")


def card(view: ProjectView, eager: bool = False) -> str:
    """A project's card: the owner's cover (the first cards' load at once: the largest paint
    of the page is one of them) or the result drawn for the card."""
    c = view.config
    data_tags = " ".join(tag_slug(t) for t in c.tags)
    lines = [f'<div class="pf-card" data-tags="{escape(data_tags)}" markdown>', ""]
    thumb = card_cover(view)
    if thumb:
        loading = "" if eager else " loading=lazy"
        lines.append(f"[![{md_text(c.title)}]({url_path(thumb)}){{ .pf-thumb{loading} }}]"
                     f"(projects/{c.slug}/index.md)\n")
    else:
        lines.append(card_chart(view) + "\n")
    lines.append(f"### [{md_text(c.title)}](projects/{c.slug}/index.md)\n")
    lines.append(f"{md_text(c.summary)}\n")
    lines.append(headline(view) + "\n")
    status = f"{view.steps_done} of 5 steps"
    if view.smoke:
        status += ' · <span class="pf-smoke">smoke run</span>'
    if _better(view) == "worse":
        status += ' · <span class="pf-worse">does not beat its baseline</span>'
    if c.featured:
        status += " · featured"
    lines.append(f'<span class="pf-meta">{status}</span>\n')
    if c.tags:
        lines.append('<span class="pf-card-tags">' + " ".join(
            f"<code>{md_text(t)}</code>" for t in c.tags) + "</span>\n")
    lines.append("</div>\n")
    return "\n".join(lines)


# --- project page ------------------------------------------------------------------------

def _step_metrics(view: ProjectView, step: str) -> list[dict]:
    return [m for m in view.metrics.get("metrics", []) if m.get("step") == step]


def metrics_table(records: list[dict]) -> str:
    if not records:
        return ""
    rows = ["| model | metric | split | value | spread across folds or interval |",
            "|---|---|---|---|---|"]
    for m in records:
        spread, interval = m.get("spread"), m.get("interval")
        spread_text = (f"± {fmt(spread['std'], m['name'])} (n = {spread['n']}, "
                       f"{fmt(spread['min'], m['name'])}–{fmt(spread['max'], m['name'])})"
                       if spread else
                       f"{interval_level(interval)} interval {interval_span(interval, m['name'])}"
                       if interval else "")
        rows.append(f"| {md_text(m.get('model', '—'))} | {md_text(metric_label(m['name']))} | "
                    f"{md_text(m['split'])} | {fmt(m['value'], m['name'])} | {md_text(spread_text)} |")
    # On a phone each row is a block of labelled lines (portfolio.css: .pf-stack).
    return '<div class="pf-metrics pf-stack" markdown>\n\n' + "\n".join(rows) + "\n\n</div>\n"


def notebook_links(view: ProjectView, step: str, repository: str | None) -> str:
    """Links to a step's rendered notebook and to the notebook file: on GitHub (which renders
    it and offers its download) where the profile names the repository, else in the site."""
    links = [f"[Read the notebook]({step}/index.md)"]
    nb_path = f"portfolio/projects/{view.slug}/export/notebooks/{step}.ipynb"
    github = _github(repository)
    if github:
        links.append(f"[Source on GitHub](<https://github.com/{github}/blob/main/{nb_path}>)")
        links.append(f"[Open in Colab](<https://colab.research.google.com/github/{github}/blob/"
                     f"main/{nb_path}>){{ .pf-colab }}")
    else:
        links.append(f"[Download {step}.ipynb](files/{step}.ipynb)")
    return " · ".join(links) + "\n"


def notebook_files_in_site(repository: str | None) -> bool:
    """Whether the site carries a copy of each executed notebook: only where the notebooks are
    not on GitHub already (export/ is committed), a copy that would double the site's size."""
    return _github(repository) is None


def _github(repository: str | None) -> str | None:
    match = re.match(r"https://github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?/?$", repository or "")
    return match.group(1) if match else None


def verdict(view: ProjectView) -> str:
    """The result against the baseline and the reference, in the metric's direction: with the
    test score's interval, whether each difference is larger than the interval."""
    c = view.config
    metric = c.metric.name
    if not view.primary:
        return "No test score yet."
    interval = interval_of(view)
    text = (f"{md_text(view.scored_model)} scores {md_text(metric_label(metric))} "
            f"**{fmt(view.primary['value'], metric)}**")
    if interval:
        text += f" ({interval_level(interval)} interval {interval_span(interval, metric)})"
    text += " on the held-out test set"
    if interval:
        return text + ". " + " ".join(interval_sentences(view, interval))
    better = _better(view)
    if better:
        text += (f", {better} than the naive baseline ({fmt(view.baseline['value'], metric)}, "
                 f"{md_text(view.baseline.get('strategy', ''))})")
    if view.reference:
        sign = 1 if c.metric.direction == "maximize" else -1
        ahead = sign * (view.primary["value"] - view.reference["value"]) >= 0
        text += (f" and {'level with or ahead of' if ahead else 'behind'} the published "
                 f"reference ({fmt(view.reference['value'], metric)})")
    return text + "."


def interval_sentences(view: ProjectView, interval: dict) -> list[str]:
    """One sentence each for the baseline and the reference: where it lies against the
    interval of the test score, and so whether this result is clearly better, clearly worse
    or level with it."""
    metric = view.config.metric.name
    sentences = []
    if view.baseline and view.baseline["name"] == metric:
        strategy = plain(view.baseline.get("strategy", ""))
        named = f"naive baseline {fmt(view.baseline['value'], metric)}" + (
            f" ({md_text(strategy)})" if strategy else "")
        sentences.append(against(view, interval, named, view.baseline["value"]))
    if view.reference:
        sentences.append(against(view, interval, f"reference {fmt(view.reference['value'], metric)}",
                                 view.reference["value"]))
    return sentences


def against(view: ProjectView, interval: dict, named: str, value: float) -> str:
    """'The reference 0.975 lies inside the interval: this result is level with it, not clearly
    better.'"""
    sign = 1 if view.config.metric.direction == "maximize" else -1
    low, high = sorted((interval["low"], interval["high"]))
    if low <= value <= high:
        ahead = sign * (view.primary["value"] - value)
        hedge = "better" if ahead > 0 else "worse" if ahead < 0 else "better or worse"
        return f"The {named} lies inside the interval: this result is level with it, not clearly {hedge}."
    side = "below" if value < low else "above"
    better = (value < low) == (sign > 0)
    return (f"The {named} lies {side} the interval: this result is clearly "
            f"{'better' if better else 'worse'} than it.")


def findings_list(view: ProjectView) -> str:
    """The conclusions the notebooks recorded, each with a link to its step's notebook: those
    of the results (step 5) open, those of how the model was chosen (steps 1-4) folded under
    them, where there are both."""
    done = {path.stem for path in view.notebooks}
    results, choices = [], []
    for found in view.findings:
        text = md_text(found["text"])
        if not text:
            continue
        step = found["step"]
        where = f"step {STEPS.index(step) + 1}"
        item = (f"- {text} ([{where}]({step}/index.md))" if step in done
                else f"- {text} ({where})")
        (results if step == STEPS[-1] else choices).append(item)
    if not results and not choices:
        return ""

    def listed(items: list[str]) -> str:
        return '<div class="pf-findings" markdown>\n\n' + "\n".join(items) + "\n\n</div>\n"

    if not results or not choices:
        return "**What the notebooks concluded.**\n\n" + listed(results or choices)
    return ("**What the notebooks concluded.**\n\n" + listed(results)
            + fold(f"How the model was chosen: {len(choices)} conclusion"
                   f"{'s' if len(choices) > 1 else ''} of steps 1-4", listed(choices)))


def best_published(view: ProjectView) -> dict | None:
    """The registry's best published result for the project's metric, where it has one."""
    return view.best


def comparison_table(view: ProjectView) -> str:
    c = view.config
    metric = c.metric.name
    rows = ["| against | " + md_text(metric_label(metric)) + " | how |", "|---|---|---|"]
    if view.baseline:
        b = view.baseline
        rows.append(f"| Naive baseline | {fmt(b['value'], b['name'])}"
                    f"{'' if b['name'] == metric else ' (' + md_text(metric_label(b['name'])) + ')'} | "
                    f"{md_text(b.get('strategy', ''))} |")
    if view.primary:
        interval = interval_of(view)
        how = f"{md_text(view.scored_model)}, test set"
        if interval:
            how += (f"; {interval_level(interval)} interval {interval_span(interval, metric)} "
                    f"({md_text(interval.get('method', ''))}, {interval['n']} resamples)")
        rows.append(f"| **This project** | **{fmt(view.primary['value'], metric)}** | {how} |")
    if view.reference:
        r = view.reference
        rows.append(f"| Reference | {fmt(r['value'], metric)} | {_rung(r)} |")
    elif c.dataset.source != "builtin":
        rows.append("| Reference | — | own data: no published reference |")
    best = best_published(view)
    if best:
        rows.append(f"| Best published | {fmt(best['value'], metric)} | {_rung(best)} |")
    return '<div class="pf-compare" markdown>\n\n' + "\n".join(rows) + "\n\n</div>\n"


def _rung(rung: dict) -> str:
    """A rung of the ladder: its model, its protocol and its source, linked where it has a URL."""
    parts = [md_text(rung[k]) for k in ("model", "protocol") if rung.get(k)]
    if rung.get("source"):
        parts.append(link(rung["source"], rung["url"]) if rung.get("url") else md_text(rung["source"]))
    return "; ".join(parts)


def worse_note(view: ProjectView) -> str:
    """The mark of a project whose test score does not beat its naive baseline."""
    if _better(view) != "worse":
        return ""
    metric = view.config.metric.name
    return ('!!! failure "Does not beat its baseline"\n    The test score '
            f"({fmt(view.primary['value'], metric)}) is no better than the naive baseline's "
            f"({fmt(view.baseline['value'], metric)}) in the metric's direction.\n")


def _first_paragraph(html: str) -> tuple[str, str]:
    """(the narrative's first paragraph, the rest): the step's summary and its details."""
    match = re.search(r"<p>.*?</p>", html, re.S)
    if not match:
        return "", html
    return match.group(0), (html[:match.start()] + html[match.end():]).strip()


# A step's summary on the page: its narrative's first sentences up to about this many
# characters of text; the rest of the paragraph opens the folded details.
SUMMARY_CHARS = 150
_TAG_OR_SENTENCE_END = re.compile(r"<(/?)([a-zA-Z0-9]+)[^>]*>|(?<=[.!?])\s+(?=[A-Z0-9])")
_VOID = {"br", "img", "wbr"}


def _short_summary(paragraph: str) -> tuple[str, str]:
    """(the first sentences of a <p> paragraph, the paragraph's other sentences as a <p>, or
    ''): cut only at a sentence's end outside any inline element, after SUMMARY_CHARS
    characters of text."""
    body = paragraph[len("<p>"):-len("</p>")]
    open_tags, text, start = 0, 0, 0
    for match in _TAG_OR_SENTENCE_END.finditer(body):
        if open_tags == 0:
            text += len(body[start:match.start()])
        start = match.end()
        if match.group(2):
            if match.group(2).lower() not in _VOID:
                open_tags += -1 if match.group(1) else 1
        elif open_tags == 0 and text >= SUMMARY_CHARS:
            return f"<p>{body[:match.start()]}</p>", f"<p>{body[match.end():]}</p>"
    return paragraph, ""


def step_figures(step: str, urls: list[str], captions: dict[str, str]) -> str:
    """A step's figures, each with its caption (the heading it sits under in the notebook) as
    alt text, else the step's title."""
    out = []
    for i, url in enumerate(urls, start=1):
        alt = captions.get(url.rpartition("/")[2]) or f"{STEP_TITLES[step]}, figure {i}"
        out.append(f"![{md_text(alt)}]({url_path(url)}){{ loading=lazy }}\n")
    return "\n".join(out)


def _step_numbers(view: ProjectView, step: str) -> str:
    """The step's key number in a line: what a reader wants before opening the details."""
    records = _step_metrics(view, step)
    metric = view.config.metric.name
    if step == "01_define_problem" and view.baseline:
        return f"Naive baseline: {md_text(metric_label(view.baseline['name']))} " \
               f"{fmt(view.baseline['value'], view.baseline['name'])}."
    if step == "05_present_results" and view.primary:
        interval = interval_of(view)
        shown = (f" ({interval_level(interval)} interval {interval_span(interval, metric)})"
                 if interval else "")
        return (f"Test score: {md_text(metric_label(metric))} "
                f"**{fmt(view.primary['value'], metric)}**{shown}.")
    scored = [m for m in records if m["name"] == metric and m.get("model")]
    if scored:
        sign = 1 if view.config.metric.direction == "maximize" else -1
        top = max(scored, key=lambda m: sign * m["value"])
        spread = f" ± {fmt(top['spread']['std'], metric)}" if top.get("spread") else ""
        return (f"Best of {len(scored)}: {md_text(top['model'])}, {md_text(metric_label(metric))} "
                f"{fmt(top['value'], metric)}{spread} ({md_text(top['split'])}).")
    return ""


def project_page(view: ProjectView, narratives: dict[str, str], figure_urls: dict[str, list[str]],
                 repository: str | None, image: str | None = None,
                 captions: dict[str, str] | None = None, errors_figure: str | None = None,
                 error_analysis: str | None = None, errors_wide: bool = False) -> str:
    """The answers first (question, result and conclusions, comparison, errors, the data),
    then each step in a few lines with its details folded, then the record folded.
    `captions`: alt text by figure file name; `errors_figure`: the step-5 figure that shows
    the model's errors; `error_analysis`: step 5's error analysis as safe HTML
    (nbrender.render_error_analysis); `errors_wide`: whether that figure is much wider than
    tall (panels side by side), too small beside the text."""
    c = view.config
    captions = captions or {}
    out = [front_matter(c.title, c.summary or c.title, image=image)]
    out.append(f"# {md_text(c.title)}\n")
    if view.smoke:
        out.append('!!! warning "Smoke run"\n    These results come from a fast smoke run '
                   "(few epochs, few folds): they check that the project runs, not how well.\n")
    out.append(worse_note(view))
    if c.tags:
        out.append(" ".join(f"[<code>{md_text(t)}</code>](../../tags/{tag_slug(t)}.md)"
                            for t in c.tags) + "\n")
    data = view.dataset["title"] if view.dataset else f"own data ({c.dataset.name})"
    direction = "higher" if c.metric.direction == "maximize" else "lower"
    out.append(f"{md_text(c.summary)}\n")
    out.append(f"**The question.** {SKILLS[c.problem_type]} on {md_text(data)}, scored by "
               f"{md_text(metric_label(c.metric.name))} on held-out data ({direction} is better).\n")
    out.append(f"**What was found.** {verdict(view)}\n")
    out.append(findings_list(view))
    out.append("## How it compares\n")
    out.append(comparison_table(view))
    out.append(error_section(errors_figure, captions, error_analysis, errors_wide))
    out.append(try_section(view))
    out.append(data_card_section(view))

    out.append("## The five steps\n")
    out.append('<div class="pf-steps" markdown>\n')
    for number, step in enumerate(STEPS, start=1):
        out.append(f"### {number}. {STEP_TITLES[step]}\n")
        if not (view.project.export_dir / "notebooks" / f"{step}.ipynb").is_file():
            out.append("Not done yet.\n")
            continue
        summary, rest = _first_paragraph(narratives.get(step, ""))
        summary, more = _short_summary(summary) if summary else ("", "")
        rest = f"{more}\n{rest}".strip()
        if summary:
            out.append(f'<div class="pf-narrative">\n{inert_in_markdown(summary)}\n</div>\n')
        # The step's key number and its notebook in one line, above its folded details.
        numbers = _step_numbers(view, step)
        out.append((numbers + " · " if numbers else "") + notebook_links(view, step, repository))
        details = []
        if rest:
            details.append(f'<div class="pf-narrative">\n{inert_in_markdown(unlisted_headings(rest))}'
                           "\n</div>\n")
        details.append(metrics_table(_step_metrics(view, step)))
        for param in (p for p in view.metrics.get("params", []) if p.get("step") == step):
            settings = ", ".join(f"{k} = {v}" for k, v in param["params"].items())
            details.append(f"**{md_text(param['name'])}**: {md_text(settings)}\n")
        details.append(step_figures(step, figure_urls.get(step, []), captions))
        out.append(fold("Details: narrative, tables and figures", "".join(d for d in details if d)))
    out.append("</div>\n")

    # Tables of numbers and run metadata stay out of the search index (it loads with every page).
    out.append("## Metrics, model card and record of the run { data-search-exclude }\n")
    out.append(fold("Every metric recorded, the model card and the record of the run", "\n".join((
        subhead("Every metric recorded"),
        metrics_table(view.metrics.get("metrics", [])) or "No metrics recorded.\n",
        subhead("Model card: use, data, test metrics and limitations"), model_card(view),
        subhead("Record of the run: seed, device, versions, hashes and run times"),
        run_record(view)))))
    return "\n".join(out)


def subhead(text: str) -> str:
    """A heading inside a fold (see unlisted_headings): one level under the section's."""
    return f'<p class="pf-subhead" role="heading" aria-level="3">{text}</p>\n'


def error_section(errors_figure: str | None, captions: dict[str, str],
                  error_analysis: str | None, wide: bool = False) -> str:
    """What the model gets wrong: its figure (beside the text on a wide screen), the error
    analysis' first paragraph, the rest of it (tables and figures) folded."""
    if not errors_figure and not error_analysis:
        return ""
    out = ["## Error analysis\n"]
    lead, rest = _first_paragraph(error_analysis or "")
    caption = captions.get(errors_figure or "", "")
    if caption.strip().lower() in ("", "error analysis"):  # no heading of its own
        caption = "The model's errors on the test set"
    if errors_figure:
        out.append(f"![{md_text(caption)}]({url_path('figures/' + errors_figure)})"
                   f"{{ .pf-errors{' .pf-errors-wide' if wide else ''} loading=lazy }}\n")
    if lead:
        out.append(f'<div class="pf-narrative">\n{inert_in_markdown(lead)}\n</div>\n')
    if errors_figure:
        out.append(f"{md_text(caption)}, from step 5 "
                   f"([the notebook](05_present_results/index.md) explains it).\n")
    if rest:
        out.append(fold("The whole error analysis: tables and figures",
                        f'<div class="pf-narrative pf-errors-all">\n'
                        f"{inert_in_markdown(unlisted_headings(rest))}\n</div>\n"))
    return "\n".join(out)


TRY = {
    "tabular-classification": "Start from a test row, change any value, and see the class the "
                              "model predicts and how sure it is.",
    "tabular-regression": "Start from a test row, change any value, and see what the model "
                          "predicts.",
    "image-classification": "Pick a test image and see the class the model predicts and how "
                            "sure it is.",
    "time-series-forecasting": "Pick a year or step of the test period, or change the values "
                               "before it, and see the model's forecast of the next one.",
}


def try_section(view: ProjectView) -> str:
    """The exported model, run in the visitor's browser when asked: a button that loads the
    runtime and the model (their size on it), nothing more until it is clicked."""
    spec = view.browser
    if spec is None or spec.unavailable is not None:
        return ""
    from ..records import BROWSER_ONNX as ONNX

    raw, packed = runtime_size()
    model = (view.project.export_dir / "model" / ONNX).stat().st_size
    drawn = " For these small grey images you can also draw one." if spec.draw else ""
    return ('<div class="pf-try" data-spec="try/browser.json" data-model="try/model.onnx" '
            "markdown>\n\n## Try the model\n\n"
            '<p class="pf-try-load"><button type="button" '
            'class="md-button md-button--primary pf-try-open">'
            f"Load the model ({(raw + model) / 2**20:.1f} MB, "
            f"{(packed + model) / 2**20:.1f} MB compressed)</button></p>\n\n"
            f'<p class="pf-try-intro">{TRY[spec.kind]}{drawn} The model runs in your browser '
            "with ONNX Runtime Web: nothing you enter leaves this page.</p>\n"
            '<p class="pf-try-status" role="status"></p>\n\n</div>\n')


def runtime_size() -> tuple[int, int]:
    """The browser runtime's size, as served and compressed (vendor/onnxruntime-web)."""
    import json as _json

    from .build import VENDOR

    sizes = _json.loads((VENDOR / "sizes.json").read_text(encoding="utf-8"))
    return sum(v[0] for v in sizes.values()), sum(v[1] for v in sizes.values())


def data_card_section(view: ProjectView) -> str:
    """The data card: where the data come from and their licence, then (folded) what they
    are and how to cite them; 'not stated' where the card leaves a field empty."""
    card = view.card()
    url, _, note = card["url"].partition(" ")
    source = link(url, url) + (f" {md_text(note)}" if note.strip() else "") if url else NOT_STATED
    licence = md_text(card["licence"]) or NOT_STATED
    details = (f"- **What they are**: {md_text(card['description']) or NOT_STATED}\n"
               f"- **Citation**: {md_text(card['citation']) or NOT_STATED}\n")
    return (f"## The data\n\n**Source**: {source} · **Licence**: {licence}\n\n"
            + fold("What they are and how to cite them", details))


NOT_STATED = "not stated"


def unlisted_headings(html: str) -> str:
    """Headings inside a folded block as headings for screen readers (role and level) but not
    heading elements, which the table of contents would list although they are hidden."""
    return re.sub(r"<h([1-6])\b[^>]*>(.*?)</h\1>",
                  r'<p class="pf-subhead" role="heading" aria-level="\1">\2</p>', html, flags=re.S)


def fold(title: str, body: str) -> str:
    """A block closed until clicked (Material styles <details> as a collapsible admonition)."""
    return f'<details class="pf-fold" markdown>\n<summary>{title}</summary>\n\n{body}\n</details>\n'


def model_card(view: ProjectView) -> str:
    c = view.config
    test = [m for m in view.metrics.get("metrics", []) if m["split"] == "test"]
    dataset = view.dataset["title"] if view.dataset else c.dataset.name
    lines = [f"- **Model**: {md_text(c.model)} ({md_text(c.problem_type)})",
             f"- **Intended use**: {md_text(c.model_card.intended_use)}",
             f"- **Data**: {md_text(dataset)}; 80 % for training and model selection, 20 % "
             "held out for the test scores below",
             "- **Test metrics**: " + (", ".join(
                 f"{md_text(metric_label(m['name']))} {fmt(m['value'], m['name'])}"
                 + (f" ({interval_level(m['interval'])} CI {interval_span(m['interval'], m['name'])})"
                    if m.get("interval") else "")
                 for m in test) or "—"),
             f"- **Limitations**: {md_text(c.model_card.limitations)}", ""]
    index = card_data(c, view.metrics)
    lines.append("The front matter of the model's card (`model/README.md` of the export, in the "
                 "Hugging Face format):\n")
    lines.append(fence(dump_yaml(index), "yaml"))
    return "\n".join(lines)


def run_record(view: ProjectView) -> str:
    m = view.manifest
    versions = ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items())
    digest = str(m.get("inputs", {}).get("project.yml") or "—")[:16]
    rows = ["| record of the run | value |", "|---|---|",
            f"| Run | {'smoke run (--fast)' if m.get('smoke_run') else 'full run'}, finished "
            f"{md_text(m.get('finished', '—'))} |",
            f"| Seed | {md_text(m.get('seed', '—'))} |",
            f"| Backend and device | {md_text(m.get('backend', '—'))} on "
            f"{md_text(m.get('device', '—'))} |",
            f"| Versions | {md_text(versions)} |",
            f"| Data | {_data_source(view)} |",
            f"| project.yml hash | <code>{md_text(digest)}</code> |"]
    for record in m.get("notebooks", []):
        rows.append(f"| {md_text(STEP_TITLES.get(record['step'], record['step']))} | "
                    f"{record.get('seconds', 0):.1f} s |")
    rows.append(f"| Total | {m.get('seconds', 0):.1f} s |")
    return "\n".join(rows) + "\n"


def _data_source(view: ProjectView) -> str:
    """Where the data came from: a built-in dataset's loader, or the hash of data/."""
    if view.dataset:  # the registry's entry, for built-in datasets only
        return f"built in: <code>{md_text(view.dataset['loader'])}</code>"
    digest = str(view.manifest.get("inputs", {}).get("data") or "—")[:16]
    return f"<code>{md_text(digest)}</code> (hash of data/)"


def heading_shift(text: str, top: int) -> int:
    """How far to move Markdown headings so that the highest of them becomes h`top`: a page
    keeps its headings in order, no level skipped (screen readers navigate by them)."""
    levels = [len(m) for m in re.findall(r"^ {0,3}(#{1,6})[ \t]", text, re.M)]
    return top - min(levels) if levels else 0


def narrative(cells_markdown: list[str], cells_html: list[str | None] | None = None) -> str:
    """A step's Markdown cells as safe HTML, without its title, headings from h4 down (the
    step's own heading is an h3). `cells_html`: the cells already converted, headings as
    written (None for a cell to convert here)."""
    text = "\n\n".join(cells_markdown)
    untitled = re.sub(r"\A\s*# [^\n]*\n", "", text)
    shift = max(0, heading_shift(untitled, 4))
    if cells_html is None:
        html = markdown_to_html(untitled, shift=shift)
    else:
        joined = "\n".join(part for part in (
            converted if converted is not None else markdown_to_html(source)
            for source, converted in zip(cells_markdown, cells_html, strict=True)) if part)
        if untitled != text:
            joined = re.sub(r"\A\s*<h1>.*?</h1>\s*", "", joined, count=1, flags=re.S)
        html = shift_headings(joined, shift)
    # A heading whose section holds only code says nothing here: drop it.
    return re.sub(r"<h([1-6])>[^<]*</h\1>\s*(?=<h[1-6]>|\Z)", "", html.strip())


def notebook_page(view: ProjectView, step: str, body: str, image: str | None = None,
                  repository: str | None = None) -> str:
    c = view.config
    title = f"{c.title}: {STEP_TITLES[step]}"
    head = front_matter(title, f"Notebook {step} of {c.title}", search=False, image=image)
    github = _github(repository)
    source = (f"[Source on GitHub](<https://github.com/{github}/blob/main/portfolio/projects/"
              f"{view.slug}/export/notebooks/{step}.ipynb>)" if github
              else f"[Download {step}.ipynb](../files/{step}.ipynb)")
    links = f"[← {md_text(c.title)}](../index.md) · {source}\n"
    return f"{head}\n# {md_text(title)}\n\n{links}\n{inert_in_markdown(body)}\n"


# --- portfolio pages ---------------------------------------------------------------------

def leaderboard_page(views: list[ProjectView], image: str | None = None) -> str:
    out = [front_matter("Leaderboard", "Every project's result against its baseline and reference",
                        image=image, hide=("navigation", "toc"))]
    out.append("# Leaderboard\n")
    out.append("Each project's test score next to its dataset's naive baseline and published "
               "reference. Click a column heading to sort.\n")
    ci = " (95 % CI)" if any(interval_of(v) for v in views) else ""
    rows = [f"| project | dataset | model | metric | baseline | result{ci} | reference | run |",
            "|---|---|---|---|---|---|---|---|"]
    for v in views:
        metric = v.config.metric.name
        data = v.dataset["title"] if v.dataset else f"own data ({v.config.dataset.name})"
        base = fmt(v.baseline["value"], metric) if v.baseline and \
            v.baseline["name"] == metric else "—"
        ref = fmt(v.reference["value"], metric) if v.reference else "—"
        rows.append(f"| [{md_text(v.config.title)}](projects/{v.slug}/index.md) | {md_text(data)} "
                    f"| {md_text(v.config.model)} | {md_text(metric_label(metric))} | {base} | "
                    f"{fmt(v.primary and v.primary['value'], metric)}{_span(v)}"
                    f"{WORSE_MARK if _better(v) == 'worse' else ''} | {ref} | "
                    f"{'smoke' if v.smoke else 'full'} |")
    out.append('<div class="pf-sortable pf-stack pf-leaderboard" markdown>\n\n' + "\n".join(rows)
               + "\n\n</div>\n")
    return "\n".join(out)


WORSE_MARK = ' <span class="pf-worse">below baseline</span>'


def _span(view: ProjectView) -> str:
    interval = interval_of(view)
    return f" ({interval_span(interval, view.config.metric.name)})" if interval else ""


def _project_list(views: list[ProjectView], prefix: str) -> str:
    return "\n".join(f"- [{md_text(v.config.title)}]({prefix}projects/{v.slug}/index.md): "
                     f"{md_text(v.config.summary)} ({headline(v)})" for v in views) + "\n"


def skills_page(views: list[ProjectView], image: str | None = None) -> str:
    out = [front_matter("Skills", "Techniques shown in the projects, each with its projects",
                        image=image)]
    out.append("# Skills\n")
    by_type = defaultdict(list)
    for v in views:
        by_type[v.config.problem_type].append(v)
    out.append("## Problem types\n")
    for kind, label in SKILLS.items():
        if by_type.get(kind):
            out.append(f"### {label}\n\n" + _project_list(by_type[kind], ""))
    out.append("## Techniques\n")
    by_tag = defaultdict(list)
    for v in views:
        for t in v.config.tags:
            by_tag[t].append(v)
    for tag in sorted(by_tag):
        names = ", ".join(f"[{md_text(v.config.title)}](projects/{v.slug}/index.md)"
                          for v in by_tag[tag])
        out.append(f"- [**{md_text(tag)}**](tags/{tag_slug(tag)}.md): {names}")
    return "\n".join(out) + "\n"


def tag_pages(views: list[ProjectView], image: str | None = None) -> dict[str, str]:
    by_tag = defaultdict(list)
    for v in views:
        for t in v.config.tags:
            by_tag[t].append(v)
    pages = {}
    for tag, tagged in sorted(by_tag.items()):
        # Lists of projects, each found in search by its own page.
        body = front_matter(f"Tag: {tag}", f"Projects tagged {tag}", image=image, search=False)
        body += f"\n# Projects tagged “{md_text(tag)}”\n\n" + _project_list(tagged, "../")
        pages[tag_slug(tag)] = body
    return pages


def about_page(profile: Profile, views: list[ProjectView], image: str | None = None) -> str:
    out = [front_matter(f"About {profile.name}", profile.headline or profile.name,
                        image=profile.photo or image)]
    out.append(f"# About {md_text(profile.name)}\n")
    if profile.photo:
        out.append(f"![{md_text(profile.name)}]({url_path(profile.photo)}){{ .pf-photo width=160 }}\n")
    if profile.headline:
        out.append(f"**{md_text(profile.headline)}**\n")
    if profile.bio:
        out.append(f"{md_text(profile.bio)}\n")
    if profile.links:
        out.append("## Contact\n")
        out.extend(f"- {link(item.label, item.url)}" for item in profile.links)
        out.append("")
    out.append("## Projects\n")
    out.append(_project_list(views, ""))
    skills = sorted({SKILLS[v.config.problem_type] for v in views})
    if skills:
        out.append("## What I can do\n")
        out.extend(f"- {s}" for s in skills)
    return "\n".join(out) + "\n"
