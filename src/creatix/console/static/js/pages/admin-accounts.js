// Operator accounts: list and create accounts; change a plan, suspend, grant credits, delete.
import { api, badge, field, h, input, load, num, numberValue, onSubmit, render, table, value, when } from "../console.js";
import { act, listAccounts, outcomeSlot, yesNo } from "../admin.js";

const accountUrl = (account, suffix = "") => `/api/admin/accounts/${encodeURIComponent(account.id)}${suffix}`;
let selectedId = null;

/** A fresh Idempotency-Key; crypto.randomUUID needs a secure context, getRandomValues not. */
function idempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The catalog's plans, offered as suggestions. */
function planList(plans) {
  return h("datalist", { id: "plans" }, plans.map((p) => h("option", { value: p.id }, p.default ? `${p.id} (default)` : p.id)));
}

function createForm() {
  const form = h("form.card", { "aria-labelledby": "create-account-title", novalidate: true },
    h("h2", { id: "create-account-title" }, "Create an account"),
    h("div.row",
      field("Name", input("name", { maxlength: 100, required: true })),
      field("Plan (optional)", input("plan", { maxlength: 40, list: "plans", placeholder: "the catalog's default" }))),
    h("label.check", h("input", { type: "checkbox", name: "unlimited" }), "Unlimited (its generations are not charged)"),
    h("p", h("button.primary", { type: "submit" }, "Create account")));
  return onSubmit(form, async () => {
    const created = await api("POST", "/api/admin/accounts", { name: value(form, "name") || "", plan: value(form, "plan"), unlimited: value(form, "unlimited") });
    selectedId = created.id;
    await show(h("p.notice", `Account “${created.name}” created on plan ${created.plan}.`));
  });
}

function planForm(account) {
  const form = h("form", { "aria-label": `Plan of ${account.name}`, novalidate: true },
    h("div.row", field("Plan", input("plan", { maxlength: 40, list: "plans", value: account.plan })),
      h("div.field", h("button", { type: "submit", "aria-label": `Change the plan of ${account.name}` }, "Change plan"))));
  return onSubmit(form, async () => {
    const changed = await api("PATCH", accountUrl(account), { plan: value(form, "plan") || "" });
    await show(h("p.notice", `${changed.name} is now on plan ${changed.plan}.`));
  });
}

function creditsForm(account) {
  let key = idempotencyKey(); // one per grant: a resubmitted (double-clicked) grant is answered, not repeated
  const result = h("div", { "aria-live": "polite" });
  const form = h("form", { "aria-label": `Grant credits to ${account.name}`, novalidate: true },
    h("div.row",
      field("Credits", input("amount", { type: "number", min: 1, step: 1, inputmode: "numeric" })),
      field("Note (kept in the ledger)", input("note", { maxlength: 1000, placeholder: "invoice 2026-0142" })),
      h("div.field", h("button.primary", { type: "submit", "aria-label": `Grant credits to ${account.name}` }, "Grant credits"))),
    result);
  return onSubmit(form, async () => {
    result.replaceChildren();
    const granted = await api("POST", accountUrl(account, "/credits"),
      { kind: "grant", amount: numberValue(form, "amount"), note: value(form, "note") },
      { headers: { "Idempotency-Key": key } });
    key = idempotencyKey();
    form.reset();
    result.replaceChildren(h("p.notice", granted.replayed ? "Already granted: " : "Granted ",
      `${num(granted.entry.amount)} credits to ${account.name}. Balance now ${num(granted.balance)} credits.`));
  });
}

function manageCard(account, slot) {
  const suspended = account.status === "suspended";
  const setStatus = () => act(slot, async () => {
    if (!suspended && !confirm(`Suspend ${account.name}? Its keys get a 403 on the generation APIs until it is reactivated.`)) return;
    await api("PATCH", accountUrl(account), { status: suspended ? "active" : "suspended" });
    await show(h("p.notice", `${account.name} ${suspended ? "reactivated" : "suspended"}.`));
  });
  const remove = () => act(slot, async () => {
    if (!confirm(`Delete ${account.name}? It will be listed no more and its keys stop working; its ledger and jobs are kept.`)) return;
    await api("DELETE", accountUrl(account));
    selectedId = null;
    await show(h("p.notice", `${account.name} deleted.`));
  });
  return h("section.card", { id: "manage", "aria-labelledby": "manage-title" },
    h("h2", { id: "manage-title" }, `Manage ${account.name}`),
    h("p.muted", h("code", account.id), " · ", badge(account.status), account.unlimited ? " · unlimited" : ""),
    planForm(account),
    h("h3", "Grant credits"), creditsForm(account),
    h("h3", "Suspend or delete"),
    h("div.row",
      h("button", { type: "button", class: suspended ? null : "danger", on: { click: setStatus } }, `${suspended ? "Reactivate" : "Suspend"} ${account.name}`),
      h("button.danger", { type: "button", on: { click: remove } }, `Delete ${account.name}`),
      h("button", { type: "button", "aria-label": `Close the management of ${account.name}`, on: { click: () => { selectedId = null; document.getElementById("manage").remove(); } } }, "Close")));
}

async function show(notice) {
  const [accounts, plans] = await Promise.all([listAccounts(), api("GET", "/api/admin/plans")]);
  const slot = outcomeSlot();
  if (notice) slot.append(notice);
  const selected = accounts.find((a) => a.id === selectedId);
  render(
    planList(plans.data), slot, createForm(),
    selected ? manageCard(selected, slot) : null,
    h("h2", "Accounts"),
    table([
      { label: "Name", cell: (a) => a.name },
      { label: "Id", cell: (a) => h("code", a.id) },
      { label: "Plan", cell: (a) => a.plan },
      { label: "Balance", cell: (a) => num(a.balance) },
      { label: "Unlimited", cell: (a) => yesNo(a.unlimited) },
      { label: "Status", cell: (a) => badge(a.status) },
      { label: "Created", cell: (a) => when(a.created_at) },
      { label: "Content policy", cell: (a) => a.content_policy || h("span.muted", "plan's") },
      { label: "", cell: (a) => h("button", { type: "button", "aria-label": `Manage ${a.name}`, on: { click: () => manage(a) } }, "Manage") },
    ], accounts, "Accounts"));
}

function manage(account) {
  selectedId = account.id;
  load(async () => {
    await show();
    const card = document.getElementById("manage");
    card.scrollIntoView();
    card.querySelector("input").focus();
  });
}

load(() => show());
