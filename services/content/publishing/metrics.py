"""What SREs watch of publishing: how late posts go out, and what became of them."""

from prometheus_client import Counter, Histogram

LATENESS = Histogram(
    "qunyun_content_publication_lateness_seconds",
    "From an occurrence's time to its publication's dispatch (due → dispatched).",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 7200),
)
PUBLICATIONS = Counter(
    "qunyun_content_publications_total",
    "Publications by outcome: due, dispatched, published, failed, expired; occurrences "
    "skipped (missed, queue empty, content not approved, no targets) count as skipped.",
    ["outcome"],
)
