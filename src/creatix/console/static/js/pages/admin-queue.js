// Operator queue: jobs waiting and running, the oldest one's wait, the live workers; refreshed
// every 5 s while the page is visible.
import { api, h, load, num, problem, render, table, when } from "../console.js";

const EVERY_MS = 5000;

/** A duration for people: "3 s", "4 min", "2 h 5 min", "3 d 4 h". */
function age(totalSeconds) {
  if (totalSeconds === null || totalSeconds === undefined) return "—";
  const s = Math.max(0, Math.round(totalSeconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}
const since = (iso) => `${age((Date.now() - new Date(iso)) / 1000)} ago`;

function stat(label, strong, sub) {
  return h("div.card.stat", h("span", label), h("strong", strong), sub ? h("span.muted", sub) : null);
}

function health(queue) {
  return [
    h("section.stats",
      stat("Queued", num(queue.queued), "waiting for a worker"),
      stat("Running", num(queue.running), "held by a worker"),
      stat("Oldest queued", age(queue.oldest_queued_seconds), queue.oldest_queued_at ? `since ${when(queue.oldest_queued_at)}` : "nothing waiting")),
    h("h2", "Workers"),
    table([
      { label: "Id", cell: (w) => h("code", w.id) },
      { label: "Host", cell: (w) => w.hostname },
      { label: "Models", cell: (w) => (w.models ? w.models.join(", ") : h("span.muted", "every model")) },
      { label: "Concurrency", num: true, cell: (w) => num(w.concurrency) },
      { label: "Started", cell: (w) => when(w.started_at) },
      { label: "Last seen", cell: (w) => since(w.last_seen_at) },
    ], queue.workers, "Workers seen alive lately"),
  ];
}

// Refreshed content is not announced every 5 s: the region is aria-live="off".
const region = h("div", { "aria-live": "off" });
const updated = h("span.muted");
let busy = false;

async function refresh() {
  if (busy) return;
  busy = true;
  try {
    region.replaceChildren(...health(await api("GET", "/api/admin/queue")));
    updated.textContent = `Updated ${new Date().toLocaleTimeString("en")}`;
  } catch (error) {
    if (error.status !== 401) region.replaceChildren(problem(error));
  } finally {
    busy = false;
  }
}

load(async () => {
  await refresh();
  render(h("p.row", h("button", { type: "button", on: { click: refresh } }, "Refresh"), updated), region);
  setInterval(() => { if (document.visibilityState === "visible") refresh(); }, EVERY_MS);
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") refresh(); });
});
