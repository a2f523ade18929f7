// The console: one static HTML document that renders GET /status every 2 seconds. Per hook, a card with its state, its
// resource figures (status().details.resources) as bars with their marks, its last passes as a chart, the error of a
// failing pass, and a "run now" button that calls POST /hooks/:name/run with the token typed into the page (kept in
// memory only: never in the URL, never stored). No build step, no assets.
export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>reclaim console</title>
<style>
  :root { color-scheme: light dark; font-family: system-ui, sans-serif; --ok: #1a7f37; --bad: #cf222e; --muted: #888; --line: #8884; }
  body { margin: 1.5rem auto; max-width: 80rem; padding: 0 1rem; }
  header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 1rem; justify-content: space-between; }
  h1 { font-size: 1.4rem; margin: 0; }
  .sub, .muted { color: var(--muted); }
  .token { display: flex; gap: .4rem; align-items: center; font-size: .9rem; }
  .token input { font: inherit; padding: .2rem .4rem; width: 14rem; }
  #cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(24rem, 1fr)); gap: 1rem; margin-top: 1rem; }
  .card { border: 1px solid var(--line); border-radius: .6rem; padding: .8rem 1rem; }
  .card.failing { border-color: var(--bad); box-shadow: 0 0 0 1px var(--bad); }
  .head { display: flex; gap: .5rem; align-items: baseline; flex-wrap: wrap; }
  .head h2 { font-size: 1.05rem; margin: 0; }
  .pill { display: inline-block; padding: .05rem .5rem; border-radius: 1rem; font-size: .8rem; background: #8883; }
  .pill.success { background: #1a7f3733; } .pill.failure, .pill.aborted { background: #cf222e33; }
  .error { color: var(--bad); font-size: .85rem; margin: .4rem 0; white-space: pre-wrap; word-break: break-word; }
  .figure { margin: .5rem 0; font-size: .85rem; }
  .figure .row { display: flex; justify-content: space-between; gap: .5rem; font-variant-numeric: tabular-nums; }
  .bar { position: relative; height: .6rem; background: #8882; border-radius: .3rem; margin-top: .2rem; }
  .bar .fill { position: absolute; inset: 0 auto 0 0; background: #3b82f6; border-radius: .3rem; }
  .bar .fill.over { background: var(--bad); }
  .bar .mark { position: absolute; top: -.2rem; bottom: -.2rem; width: 2px; background: currentColor; opacity: .6; }
  .chart { display: block; width: 100%; height: 2.6rem; margin-top: .5rem; }
  .foot { display: flex; justify-content: space-between; align-items: center; gap: .5rem; font-size: .85rem; margin-top: .5rem; }
  button { font: inherit; padding: .2rem .7rem; border-radius: .4rem; border: 1px solid var(--line); cursor: pointer; }
  .message { font-size: .8rem; }
  footer { margin-top: 1.5rem; color: var(--muted); font-size: .85rem; }
</style>
</head>
<body>
<header>
  <div><h1>reclaim</h1><div class="sub" id="sub">loading…</div></div>
  <label class="token">token <input id="token" type="password" autocomplete="off" placeholder="to run passes from here"></label>
</header>
<main id="cards"></main>
<footer><a href="/metrics">/metrics</a> · <a href="/status">/status</a> · refreshes every 2 s</footer>
<script>
const messages = {};
const size = (b) => { const u = ["B","KiB","MiB","GiB","TiB"]; let i = 0; while (Math.abs(b) >= 1024 && i < u.length - 1) { b /= 1024; i++; } return (i ? b.toFixed(1) : b) + " " + u[i]; };
const duration = (s) => s < 120 ? Math.round(s) + " s" : s < 7200 ? Math.round(s / 60) + " min" : s < 172800 ? (s / 3600).toFixed(1) + " h" : (s / 86400).toFixed(1) + " d";
const show = (v, unit) => unit === "bytes" ? size(v) : unit === "ratio" ? (v * 100).toFixed(1) + " %" : unit === "seconds" ? duration(v) : String(v);
const ago = (iso) => { if (!iso) return "—"; const s = Math.round((Date.now() - Date.parse(iso)) / 1000); const a = Math.abs(s); const t = a < 120 ? a + " s" : a < 7200 ? Math.round(a / 60) + " min" : Math.round(a / 3600) + " h"; return s < 0 ? "in " + t : t + " ago"; };
const esc = (t) => String(t).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

function figure(f) {
  const value = show(f.value, f.unit) + (f.max !== undefined && f.unit !== "ratio" ? " / " + show(f.max, f.unit) : "");
  let bar = "";
  if (f.max > 0) {
    const pct = Math.min(100, (100 * f.value) / f.max);
    const marks = (f.marks || []).map((m) => "<span class='mark' title='" + esc(m.label + " " + show(m.value, f.unit)) + "' style='left:" + Math.min(100, (100 * m.value) / f.max) + "%'></span>").join("");
    const over = (f.marks || []).some((m) => m.label === "high" && f.value > m.value) || f.value > f.max;
    bar = "<div class='bar'><span class='fill" + (over ? " over" : "") + "' style='width:" + pct + "%'></span>" + marks + "</div>";
  }
  return "<div class='figure' data-label='" + esc(f.label) + "'><div class='row'><span>" + esc(f.label) + "</span><span class='value'>" + esc(value) + "</span></div>" + bar + "</div>";
}

function chart(history) {
  if (!history.length) return "<div class='muted chart-empty'>no pass yet</div>";
  const max = Math.max(...history.map((p) => p.durationMs), 1);
  const w = 100 / 50;
  const bars = history.map((p, i) => {
    const h = Math.max(6, (34 * Math.sqrt(p.durationMs)) / Math.sqrt(max));
    const color = p.outcome === "success" ? "var(--ok)" : p.outcome === "skipped" ? "#8888" : "var(--bad)";
    const title = p.startedAt + ": " + p.outcome + ", " + p.durationMs + " ms, " + p.removed + " removed, " + size(p.reclaimedBytes);
    return "<rect class='pass " + esc(p.outcome) + "' x='" + (i * w + w * 0.15) + "' y='" + (40 - h) + "' width='" + w * 0.7 + "' height='" + h + "' fill='" + color + "'><title>" + esc(title) + "</title></rect>";
  }).join("");
  return "<svg class='chart' viewBox='0 0 100 40' preserveAspectRatio='none' role='img' aria-label='last passes'>" + bars + "</svg>";
}

function card(h) {
  const last = h.lastRun; const outcome = last ? last.outcome : "none";
  const failing = outcome === "failure" || outcome === "aborted";
  const resources = (h.details && h.details.resources) || [];
  return "<section class='card" + (failing ? " failing" : "") + "' data-hook='" + esc(h.hook) + "'>" +
    "<div class='head'><h2>" + esc(h.hook) + "</h2>" + (h.type !== h.hook ? "<span class='muted'>" + esc(h.type) + "</span>" : "") +
    "<span class='pill state'>" + esc(h.state) + (h.dryRun ? " · dry run" : "") + "</span>" +
    "<span class='pill outcome " + esc(outcome) + "'>" + esc(outcome) + "</span></div>" +
    (failing && last.error ? "<div class='error'>" + esc(last.error) + "</div>" : "") +
    resources.map(figure).join("") + chart(h.history || []) +
    "<div class='foot'><span class='muted'>last " + ago(last && last.startedAt) + (last ? " · " + last.durationMs + " ms" : "") + " · next " + ago(h.nextRunAt) +
    " · " + h.totals.removed + " removed · " + size(h.totals.reclaimedBytes) + "</span>" +
    "<span><span class='message'>" + esc(messages[h.hook] || "") + "</span> <button class='run' data-hook='" + esc(h.hook) + "'>Run now</button></span></div></section>";
}

async function refresh() {
  try {
    const status = await (await fetch("/status", { cache: "no-store" })).json();
    document.getElementById("sub").textContent = status.hooks.length + " hooks · " + (status.config || "") + " · updated " + new Date().toLocaleTimeString();
    document.getElementById("cards").innerHTML = status.hooks.map(card).join("");
  } catch (err) {
    document.getElementById("sub").textContent = "cannot reach /status: " + err.message;
  }
}

document.getElementById("cards").addEventListener("click", async (event) => {
  const button = event.target.closest("button.run");
  if (!button) return;
  const hook = button.dataset.hook;
  const token = document.getElementById("token").value.trim();
  if (!token) { messages[hook] = "type the token first"; return refresh(); }
  messages[hook] = "running…"; await refresh();
  try {
    const response = await fetch("/hooks/" + encodeURIComponent(hook) + "/run", { method: "POST", headers: { authorization: "Bearer " + token } });
    const body = await response.json().catch(() => ({}));
    messages[hook] = response.ok ? "pass " + body.outcome : response.status === 401 ? "token refused" : (body.error || "error " + response.status);
  } catch (err) {
    messages[hook] = "error: " + err.message;
  }
  await refresh();
});
refresh(); setInterval(refresh, 2000);
</script>
</body>
</html>
`;
