// The status page: one static HTML document that renders GET /status every 5 seconds. No build step, no assets.
export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>reclaim status</title>
<style>
  :root { color-scheme: light dark; font-family: system-ui, sans-serif; }
  body { margin: 2rem auto; max-width: 72rem; padding: 0 1rem; }
  h1 { font-size: 1.4rem; margin-bottom: .2rem; }
  .sub { color: #888; margin-top: 0; }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid #8884; vertical-align: top; }
  th { font-weight: 600; font-size: .85rem; text-transform: uppercase; letter-spacing: .03em; color: #888; }
  .num { text-align: right; }
  .pill { display: inline-block; padding: .05rem .5rem; border-radius: 1rem; font-size: .85rem; }
  .success { background: #1a7f3733; } .failure, .aborted { background: #cf222e33; } .skipped, .none { background: #8883; }
  .err { color: #cf222e; font-size: .85rem; }
  footer { margin-top: 1.5rem; color: #888; font-size: .85rem; }
</style>
</head>
<body>
<h1>reclaim</h1>
<p class="sub" id="sub">loading…</p>
<table>
  <thead><tr><th>Hook</th><th>State</th><th>Last pass</th><th>When</th><th class="num">Took</th><th>Next</th><th class="num">Removed</th><th class="num">Reclaimed</th></tr></thead>
  <tbody id="rows"></tbody>
</table>
<footer><a href="/metrics">/metrics</a> · <a href="/status">/status</a> · refreshes every 5 s</footer>
<script>
const size = (b) => { const u = ["B","KiB","MiB","GiB","TiB"]; let i = 0; while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; } return (i ? b.toFixed(1) : b) + " " + u[i]; };
const ago = (iso) => { if (!iso) return "—"; const s = Math.round((Date.now() - Date.parse(iso)) / 1000); return s < 0 ? "in " + (-s) + " s" : s + " s ago"; };
const esc = (t) => String(t).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
async function refresh() {
  try {
    const status = await (await fetch("/status")).json();
    document.getElementById("sub").textContent = status.hooks.length + " hooks · updated " + new Date().toLocaleTimeString();
    document.getElementById("rows").innerHTML = status.hooks.map((h) => {
      const last = h.lastRun; const outcome = last ? last.outcome : "none";
      return "<tr><td><strong>" + esc(h.hook) + "</strong>" + (h.type && h.type !== h.hook ? " <span class='sub'>" + esc(h.type) + "</span>" : "") + (h.dryRun ? " (dry run)" : "") + "</td>" +
        "<td>" + esc(h.state) + "</td>" +
        "<td><span class='pill " + outcome + "'>" + outcome + "</span>" + (last && last.error ? "<div class='err'>" + esc(last.error) + "</div>" : "") + "</td>" +
        "<td>" + ago(last && last.startedAt) + "</td>" +
        "<td class='num'>" + (last ? last.durationMs + " ms" : "—") + "</td>" +
        "<td>" + (h.nextRunAt ? ago(h.nextRunAt) : "—") + "</td>" +
        "<td class='num'>" + h.totals.removed + "</td>" +
        "<td class='num'>" + size(h.totals.reclaimedBytes) + "</td></tr>";
    }).join("");
  } catch (err) {
    document.getElementById("sub").textContent = "cannot reach /status: " + err.message;
  }
}
refresh(); setInterval(refresh, 5000);
</script>
</body>
</html>
`;
