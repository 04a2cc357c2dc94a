"""axe-core in the browser: load the vendored copy into the page and report its violations.

The pages' Content-Security-Policy allows scripts from the portal's own origin only, so axe is
added as `<script src="/static/vendor/axe-core/axe.min.js">` (the live server serves static files)
rather than inlined, which the CSP would refuse (and report as a console error).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

AXE_URL = "/static/vendor/axe-core/axe.min.js"
BLOCKING = ("critical", "serious")

# A violation's rule, impact, help text and elements (at most 50); the rules axe could not
# decide ("incomplete": for a person to look at) with their first elements.
_RUN = """async () => {
  const results = await axe.run(document, { resultTypes: ["violations", "incomplete"] });
  return {
    violations: results.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      helpUrl: v.helpUrl,
      count: v.nodes.length,
      nodes: v.nodes.slice(0, 50).map((n) => ({
        target: n.target.map(String),
        html: n.html.slice(0, 300),
        summary: (n.failureSummary || "").slice(0, 500),
      })),
    })),
    incomplete: results.incomplete.map((v) => ({
      id: v.id,
      nodes: v.nodes.slice(0, 10).map((n) => ({
        target: n.target.map(String),
        html: n.html.slice(0, 200),
        summary: (n.failureSummary || "").slice(0, 300),
      })),
    })),
  };
}"""


def run_axe(page: Any, site_url: str) -> dict[str, Any]:
    """axe's violations (and undecided rules) on the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(url=site_url.rstrip("/") + AXE_URL)
    return page.evaluate(_RUN)


def contrast_colors(node: dict[str, Any]) -> tuple[str, str] | None:
    """(foreground, background) of a color-contrast node, from axe's explanation."""
    found = re.search(r"foreground color: (#\w+), background color: (#\w+)", node["summary"])
    return (found.group(1), found.group(2)) if found else None


@dataclass
class AxeReport:
    """Violations of several pages: which block (serious, critical) and which are only printed."""

    pages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    incomplete: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def check(self, page: Any, site_url: str, name: str) -> list[dict[str, Any]]:
        result = run_axe(page, site_url)
        self.pages[name] = result["violations"]
        self.incomplete[name] = result["incomplete"]
        return result["violations"]

    def blocking(self) -> dict[str, list[dict[str, Any]]]:
        return {
            name: [v for v in violations if v["impact"] in BLOCKING]
            for name, violations in self.pages.items()
            if any(v["impact"] in BLOCKING for v in violations)
        }

    def only_contrast(self, known: Callable[[str, str], bool]) -> bool:
        """Whether every blocking violation is a color contrast whose (text, background) colors
        `known` accepts, on every element (a known issue), and nothing else."""

        def accepted(node: dict[str, Any]) -> bool:
            colors = contrast_colors(node)
            return colors is not None and known(*colors)

        return all(
            v["id"] == "color-contrast"
            and v["count"] == len(v["nodes"])
            and all(map(accepted, v["nodes"]))
            for violations in self.blocking().values()
            for v in violations
        )

    def summary(self) -> str:
        lines = []
        for name, violations in self.pages.items():
            review = self.incomplete.get(name)
            note = (
                f" (for a person to review: {', '.join(r['id'] for r in review)})" if review else ""
            )
            if not violations:
                lines.append(f"{name}: no violation{note}")
                continue
            lines.append(f"{name}:{note}")
            for v in violations:
                lines.append(f"  [{v['impact']}] {v['id']} ({v['count']} node(s)): {v['help']}")
                for node in v["nodes"][:3]:
                    lines.append(f"      {' '.join(node['target'])}  {node['html'][:160]}")
        return "\n".join(lines)

    def failure_message(self) -> str:
        lines = ["axe-core found serious or critical violations:"]
        for name, violations in self.blocking().items():
            for v in violations:
                lines.append(f"- {name}: [{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
                for node in v["nodes"][:10]:
                    lines.append(f"    {' '.join(node['target'])}: {node['html']}")
                    if node["summary"]:
                        lines.append("      " + node["summary"].replace("\n", "\n      "))
        return "\n".join(lines)

    def save(self, path: Path) -> None:
        path.write_text(
            json.dumps({"violations": self.pages, "incomplete": self.incomplete}, indent=2)
        )
