"""The portfolio website: pages generated as Markdown, rendered by MkDocs + Material."""
