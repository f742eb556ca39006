"""What WeasyPrint may read while it renders a report: the app's own static files, and
nothing else.

WeasyPrint's default fetcher follows every URL in the HTML: ``http(s)://`` (a request from
the server to wherever a link points, e.g. a cloud metadata address), ``file://`` (any file
the server can read, embedded in the PDF). A report is built from stored results and
templates, but a name, comment or instrument text that ever reached its HTML unescaped
must not turn the PDF into a way of reading the server. So only ``data:`` URLs (already in
the page) and files under the static folder (after resolving ``..`` and symbolic links)
are fetched; WeasyPrint logs and skips anything refused. Imported only where a PDF is made,
since WeasyPrint needs Pango.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from weasyprint.urls import URLFetcher, URLFetcherResponse


class StaticFilesOnly(URLFetcher):
    """A WeasyPrint URL fetcher that reads ``data:`` URLs and files inside ``static_folder``
    and refuses every other URL with a ``ValueError`` naming it."""

    def __init__(self, static_folder: str | Path) -> None:
        super().__init__(allowed_protocols=("data", "file"), allow_redirects=False)
        self.root = Path(static_folder).resolve()

    @property
    def base_url(self) -> str:
        """The base for relative references in a report: the static folder itself."""
        return self.root.as_uri() + "/"

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> URLFetcherResponse:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "file" and not self._inside_static(parts.netloc, parts.path):
            raise ValueError(f"not fetched: {url} is outside the app's static files")
        if scheme not in ("data", "file"):
            raise ValueError(f"not fetched: {url} (reports read only the app's static files)")
        return super().fetch(url, headers)

    def _inside_static(self, host: str, path: str) -> bool:
        if host not in ("", "localhost"):
            return False
        return Path(unquote(path)).resolve().is_relative_to(self.root)
