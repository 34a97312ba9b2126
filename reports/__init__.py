"""Reports, exports and alerts for brand monitors."""

from reports.render import render_report

__all__ = ["render_report"]
