// Operator audit log: who changed which account, key, person or balance, newest first, paged.
import { api, field, h, load, onSubmit, render, table, value, when } from "../console.js";
import { accountSelect, listAccounts } from "../admin.js";

const LIMIT = 50;
let names = new Map(); // account and person ids to their names and emails

/** An id as its name where it is known (the id stays in the tooltip), else the id. */
const named = (id) => (id ? (names.has(id) ? h("span", { title: id }, names.get(id)) : h("code", id)) : "—");

function detail(entry) {
  if (!entry.detail) return "—";
  return h("details", h("summary", Object.keys(entry.detail).join(", ") || "detail"),
    h("pre", JSON.stringify(entry.detail, null, 2)));
}

function actor(entry) {
  return [`${entry.actor_kind} `, named(entry.actor_id), entry.address ? h("span.muted", ` from ${entry.address}`) : null];
}

async function page(accountId, offset) {
  const query = new URLSearchParams({ limit: LIMIT, offset });
  if (accountId) query.set("account_id", accountId);
  const found = await api("GET", `/api/admin/audit?${query}`);
  const go = (to) => load(async () => section.replaceWith(await page(accountId, to)));
  const section = h("section", { id: "audit" },
    table([
      { label: "When", cell: (e) => when(e.created_at) },
      { label: "Actor", cell: actor },
      { label: "Action", cell: (e) => h("code", e.action) },
      { label: "Target", cell: (e) => named(e.target) },
      { label: "Account", cell: (e) => named(e.account_id) },
      { label: "Detail", cell: detail },
    ], found.entries, "Audit log entries"),
    h("div.row",
      offset > 0 ? h("button", { type: "button", on: { click: () => go(Math.max(0, offset - LIMIT)) } }, "Newer") : null,
      found.next_offset !== null ? h("button", { type: "button", on: { click: () => go(found.next_offset) } }, "Older") : null,
      h("span.muted", found.entries.length ? `Entries ${offset + 1}–${offset + found.entries.length}` : "")));
  return section;
}

load(async () => {
  const [accounts, people] = await Promise.all([listAccounts(), api("GET", "/api/admin/people")]);
  names = new Map([...accounts.map((a) => [a.id, a.name]), ...people.data.map((p) => [p.id, p.email])]);
  const filter = h("form.card.row", { "aria-label": "Filter the audit log", novalidate: true },
    field("Account", accountSelect("account_id", accounts)),
    h("div.field", h("button.primary", { type: "submit" }, "Filter")));
  onSubmit(filter, async () => document.getElementById("audit").replaceWith(await page(value(filter, "account_id"), 0)));
  render(filter, await page(null, 0));
});
