"""The style sheet and script of the HTML report, inline in every page (no network, no CDN).

The script only shows and hides what the page already holds: the filters (status, reason,
package or path), the count of notebooks shown, and expand/collapse all. It reads the
`data-*` attributes `report.html` writes on each `article.nb`; it never inserts markup, so no
notebook text it handles can become HTML.
"""

from __future__ import annotations

import base64
import hashlib

STYLE = """
:root{--changed:#2b6cb0;--unchanged:#a0aec0;--skipped:#d69e2e;--failed:#c53030;--ink:#1a202c;
--muted:#4a5568;--line:#e2e8f0;--add:#e6ffed;--del:#ffeef0;font:14px/1.45 system-ui,sans-serif}
body{margin:0 auto;max-width:1100px;padding:16px 24px;color:var(--ink)}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px}
.meta,.muted{color:var(--muted)}a{color:var(--changed)}
.totals{display:grid;grid-template-columns:repeat(auto-fill,minmax(120px,1fr));gap:8px;
margin:12px 0}
.totals div{border:1px solid var(--line);border-radius:6px;padding:6px 10px}
.totals dt{color:var(--muted);font-size:12px}.totals dd{margin:0;font-size:20px;font-weight:600}
svg.stack{width:100%;height:22px;display:block}svg.bar{width:200px;height:12px}
.legend span{margin-right:14px}.sw{display:inline-block;width:10px;height:10px;margin-right:4px}
.changed{background:var(--changed);fill:var(--changed)}
.unchanged{background:var(--unchanged);fill:var(--unchanged)}
.skipped{background:var(--skipped);fill:var(--skipped)}.failed{background:var(--failed);fill:var(--failed)}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:3px 8px;
border-bottom:1px solid var(--line);vertical-align:top}td.n{text-align:right;width:4em}
td.chart{width:210px}
.badge{display:inline-block;border-radius:4px;padding:0 6px;color:#fff;font-size:12px}
.tag{display:inline-block;border:1px solid var(--skipped);border-radius:4px;padding:0 5px;
margin:0 4px 2px 0;font-size:12px;white-space:nowrap}.tag.failed{border-color:var(--failed)}
form{display:flex;flex-wrap:wrap;gap:10px;align-items:center;padding:8px;background:#f7fafc;
border:1px solid var(--line);border-radius:6px;position:sticky;top:0}
article.nb{border:1px solid var(--line);border-radius:6px;margin:6px 0;padding:4px 10px}
article.nb summary{cursor:pointer}article.nb .path{font-family:ui-monospace,monospace}
ul.lines{margin:6px 0;padding-left:18px;font-size:13px}li.warning{color:#975a16}
.where{color:var(--muted)}.error{color:var(--failed);font-weight:600}
h4{margin:10px 0 2px;font-size:13px}
pre.diff{margin:0;padding:6px;overflow-x:auto;background:#fafafa;border:1px solid var(--line);
font:12px/1.4 ui-monospace,monospace}pre.diff span{display:block;white-space:pre}
.add{background:var(--add)}.del{background:var(--del)}.gap{color:var(--muted)}
"""

SCRIPT = """
(function () {
  var form = document.getElementById("filters");
  var notebooks = Array.prototype.slice.call(document.querySelectorAll("article.nb"));
  var groups = Array.prototype.slice.call(document.querySelectorAll("section.group"));
  var shown = document.getElementById("shown-count");
  function norm(text) { return text.toLowerCase().replace(/[-_.]+/g, "-").trim(); }
  function apply() {
    var status = form.elements.status.value, reason = form.elements.reason.value;
    var query = norm(form.elements.q.value), count = 0;
    notebooks.forEach(function (nb) {
      var ok = (!status || nb.dataset.status === status) &&
        (!reason || nb.dataset.tags.split("|").indexOf(reason) >= 0) &&
        (!query || nb.dataset.packages.indexOf(query) >= 0 ||
         norm(nb.dataset.path).indexOf(query) >= 0);
      nb.hidden = !ok;
      if (ok) { count += 1; }
    });
    groups.forEach(function (group) {
      group.hidden = !group.querySelector("article.nb:not([hidden])");
    });
    shown.textContent = String(count);
  }
  function openAll(open) {
    notebooks.forEach(function (nb) { nb.querySelector("details").open = open; });
  }
  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  document.getElementById("expand").addEventListener("click", function () { openAll(true); });
  document.getElementById("collapse").addEventListener("click", function () { openAll(false); });
  apply();
})();
"""


def csp_hash(text: str) -> str:
    """The Content-Security-Policy source that allows exactly this inline style or script."""
    digest = hashlib.sha256(text.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


#: Nothing may be loaded or sent: no request of any kind, only this style and this script.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src {csp_hash(STYLE)}; script-src {csp_hash(SCRIPT)}; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)

__all__ = ["CONTENT_SECURITY_POLICY", "SCRIPT", "STYLE", "csp_hash"]
