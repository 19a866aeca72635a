// Usage: credits by day, model and key over a range; the table; CSV; the credit ledger.
import {
  accountPath, api, barChart, bars, field, h, input, load, num, onSubmit, render, table, value, when,
} from "../console.js";
import { noAccount } from "../parts.js";

const isoDay = (date) => date.toISOString().slice(0, 10);

function totals(rows, name) {
  const sums = new Map();
  for (const row of rows) sums.set(row[name] || "(console)", (sums.get(row[name] || "(console)") || 0) + row.credits);
  return [...sums].map(([label, v]) => ({ label, value: v })).sort((a, b) => b.value - a.value);
}

function rangeForm(start, end) {
  const form = h("form.card.row", { "aria-label": "Date range", novalidate: true },
    field("From", input("start", { type: "date", value: start })),
    field("To", input("end", { type: "date", value: end })),
    h("div.field", h("button.primary", { type: "submit" }, "Show")),
    h("div.field", h("a", { id: "usage-csv", href: accountPath(`/usage?group_by=day,model,key&start=${start}&end=${end}&format=csv`), download: `usage-${start}-${end}.csv` }, "Download CSV")));
  return onSubmit(form, async () => show(value(form, "start"), value(form, "end")));
}

async function ledgerSection(offset) {
  const page = await api("GET", accountPath(`/ledger?limit=20&offset=${offset}`));
  const section = h("section", { id: "ledger", "aria-labelledby": "ledger-title" }, h("h2", { id: "ledger-title" }, "Credit ledger"),
    table([
      { label: "When", cell: (e) => when(e.created_at) },
      { label: "Kind", cell: (e) => e.kind },
      { label: "Credits", num: true, cell: (e) => num(e.amount) },
      { label: "Job", cell: (e) => (e.job_id ? h("a", { href: `/console/gallery#${e.job_id}` }, e.job_id.slice(0, 8)) : "—") },
      { label: "Note", cell: (e) => e.note || "" },
    ], page.entries, "Ledger entries"),
    h("div.row",
      offset > 0 ? h("button", { type: "button", on: { click: async () => section.replaceWith(await ledgerSection(Math.max(0, offset - 20))) } }, "Newer") : null,
      page.next_offset !== null ? h("button", { type: "button", on: { click: async () => section.replaceWith(await ledgerSection(page.next_offset)) } }, "Older") : null));
  return section;
}

async function show(start, end) {
  const base = `/usage?start=${start}&end=${end}`;
  const [detail, ledger] = await Promise.all([api("GET", accountPath(`${base}&group_by=day,model,key`)), ledgerSection(0)]);
  const credits = new Map(totals(detail.rows, "day").map((t) => [t.label, t.value]));
  const points = [];
  for (let d = new Date(`${detail.start}T00:00:00Z`); isoDay(d) <= detail.end; d.setUTCDate(d.getUTCDate() + 1)) {
    points.push({ label: isoDay(d).slice(5), value: credits.get(isoDay(d)) || 0 });
  }
  render(
    rangeForm(detail.start, detail.end),
    h("h2", "Credits by day"), h("div.card", barChart(points, `Credits per day from ${detail.start} to ${detail.end}`)),
    h("div.stats",
      h("section.card", h("h2", "By model"), bars(totals(detail.rows, "model"))),
      h("section.card", h("h2", "By key"), bars(totals(detail.rows, "key_id")))),
    h("h2", "Table"),
    table([
      { label: "Day", cell: (r) => r.day },
      { label: "Model", cell: (r) => r.model },
      { label: "Key", cell: (r) => r.key_id || "(console)" },
      { label: "Jobs", num: true, cell: (r) => num(r.jobs) },
      { label: "Images", num: true, cell: (r) => num(r.images) },
      { label: "Videos", num: true, cell: (r) => num(r.videos) },
      { label: "Tokens in/out", num: true, cell: (r) => `${num(r.input_tokens)} / ${num(r.output_tokens)}` },
      { label: "Credits", num: true, cell: (r) => num(r.credits) },
    ], detail.rows, "Usage by day, model and key"),
    ledger,
  );
}

load(async () => {
  if (noAccount()) return;
  const end = new Date();
  const start = new Date(end.getTime() - 29 * 86400000);
  await show(isoDay(start), isoDay(end));
});
