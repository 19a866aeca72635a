// Webhooks: the signing secret (reveal, rotate) and every delivery with its attempts.
import { accountPath, api, badge, copyButton, field, h, input, load, onSubmit, render, table, value, when } from "../console.js";
import { noAccount } from "../parts.js";

function secretCard() {
  const slot = h("div.secret", h("code", "whsec_••••••••"));
  const reveal = async () => showSecret(await api("GET", accountPath("/webhooks/secret")));
  const rotate = async () => {
    if (!confirm("Rotate the signing secret? Receivers must switch to the new one.")) return;
    showSecret(await api("POST", accountPath("/webhooks/secret/rotate")));
  };
  function showSecret(secret) {
    slot.replaceChildren(h("code", { id: "webhook-secret" }, secret.secret), copyButton(secret.secret), h("span.muted", `since ${when(secret.created_at)}`));
  }
  return h("section.card", h("h2", "Signing secret"),
    h("p", "Every webhook is signed with it (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature)."),
    slot, h("div.row", h("button", { type: "button", on: { click: () => reveal().catch(alert) } }, "Reveal"),
      h("button.danger", { type: "button", on: { click: () => rotate().catch(alert) } }, "Rotate")));
}

function attempts(delivery) {
  if (!delivery.attempt_log.length) return "—";
  return h("ol", delivery.attempt_log.map((a) => h("li", `${when(a.attempted_at)}: `,
    a.status_code ? `HTTP ${a.status_code}` : a.error || "no answer", a.duration_ms ? ` in ${a.duration_ms} ms` : "")));
}

async function deliveries(jobId, offset = 0) {
  const query = `?limit=25&offset=${offset}${jobId ? `&job_id=${encodeURIComponent(jobId)}` : ""}`;
  const page = await api("GET", accountPath(`/webhooks/deliveries${query}`));
  return h("section", { id: "deliveries" },
    table([
      { label: "Created", cell: (d) => when(d.created_at) },
      { label: "Event", cell: (d) => d.event_type },
      { label: "Job", cell: (d) => h("a", { href: `/console/gallery#${d.job_id}` }, d.job_id.slice(0, 8)) },
      { label: "URL", cell: (d) => h("code", d.url) },
      { label: "Status", cell: (d) => badge(d.status) },
      { label: "Attempts", cell: attempts },
    ], page.data, "Webhook deliveries"),
    h("p.muted", `${page.total} in all`));
}

load(async () => {
  if (noAccount()) return;
  const filter = h("form.card.row", { "aria-label": "Filter deliveries", novalidate: true },
    field("Job id", input("job_id", { maxlength: 64 })), h("div.field", h("button.primary", { type: "submit" }, "Filter")));
  onSubmit(filter, async () => document.getElementById("deliveries").replaceWith(await deliveries(value(filter, "job_id"))));
  render(secretCard(), h("h2", "Deliveries"), filter, await deliveries(null));
});
