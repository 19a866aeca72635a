// API keys: create (scopes, models, budgets), the secret once with ready-to-run calls, revoke.
import {
  accountPath, api, badge, copyButton, field, h, input, load, numberValue, onSubmit, render, table, value, when,
} from "../console.js";
import { noAccount } from "../parts.js";
import { snippets } from "../snippets.js";

const SCOPES = [
  ["generate", "generate — the generation APIs of every dialect"],
  ["manage", "manage — this account's API (keys, usage, webhooks)"],
];

function limitsOf(form) {
  const models = value(form, "allowed_models");
  return {
    allowed_models: models ? models.split(",").map((m) => m.trim()).filter(Boolean) : null,
    budget_daily_credits: numberValue(form, "budget_daily_credits"),
    budget_monthly_credits: numberValue(form, "budget_monthly_credits"),
    rate_limit_per_minute: numberValue(form, "rate_limit_per_minute"),
  };
}

function revealed(key) {
  const calls = snippets(location.origin, key.secret, key.key_id);
  return h("section.card", { "aria-labelledby": "new-key-title" },
    h("h2", { id: "new-key-title" }, `Key “${key.name || key.key_id}” created`),
    h("p.notice", "Copy the secret now: it is shown only once and stored only as a digest."),
    h("div.secret", h("span.label", "Secret"), h("code", { id: "new-key-secret" }, key.secret), copyButton(key.secret, "Copy secret")),
    h("div.secret", h("span.label", "X-API-ID"), h("code", { id: "new-key-id" }, key.key_id), copyButton(key.key_id, "Copy id")),
    h("p.hint", "The asset and text generators take the id as X-API-ID and the secret as X-API-KEY; the other dialects take the secret as a Bearer token."),
    h("h3", "Try it"),
    calls.map((d) => h("details", { open: d.dialect.startsWith("Creatix v1") },
      h("summary", d.dialect),
      d.calls.map((c) => h("div", h("p.label", c.language),
        h("pre", { dataset: { dialect: d.dialect, language: c.language } }, c.code), copyButton(c.code, `Copy ${c.language}`))))));
}

async function revoke(key) {
  if (!confirm(`Revoke ${key.name || key.key_id}? Calls with it will be refused at once.`)) return;
  await api("DELETE", accountPath(`/keys/${encodeURIComponent(key.key_id)}`));
  await show();
}

function limitsText(limits) {
  const parts = [];
  if (limits.allowed_models) parts.push(`models: ${limits.allowed_models.join(", ") || "none"}`);
  if (limits.budget_daily_credits !== null) parts.push(`${limits.budget_daily_credits}/day`);
  if (limits.budget_monthly_credits !== null) parts.push(`${limits.budget_monthly_credits}/month`);
  if (limits.rate_limit_per_minute !== null) parts.push(`${limits.rate_limit_per_minute} req/min`);
  return parts.join(" · ") || "plan's";
}

function createForm(models) {
  const form = h("form.card", { "aria-labelledby": "create-key-title", novalidate: true },
    h("h2", { id: "create-key-title" }, "Create a key"),
    field("Name", input("name", { maxlength: 100, placeholder: "website backend" })),
    h("fieldset", h("legend", "Scopes"), SCOPES.map(([scope, label]) =>
      h("label.check", h("input", { type: "checkbox", name: "scopes", value: scope, checked: scope === "generate" }), label)),
    h("p.field-error", { id: "scopes-error", hidden: true })),
    h("div.row",
      field("Models it may use", input("allowed_models", { list: "model-ids", placeholder: "all" }), "Comma-separated model ids; empty for all."),
      field("Daily budget (credits)", input("budget_daily_credits", { type: "number", min: 0 })),
      field("Monthly budget (credits)", input("budget_monthly_credits", { type: "number", min: 0 })),
      field("Requests per minute", input("rate_limit_per_minute", { type: "number", min: 1 }))),
    h("datalist", { id: "model-ids" }, models.map((m) => h("option", { value: m.id }))),
    h("button.primary", { type: "submit" }, "Create key"));
  return onSubmit(form, async () => {
    const scopes = [...form.querySelectorAll("input[name=scopes]:checked")].map((i) => i.value);
    const key = await api("POST", accountPath("/keys"), { name: value(form, "name"), scopes });
    const limits = limitsOf(form);
    if (Object.values(limits).some((v) => v !== null)) {
      await api("PUT", accountPath(`/keys/${encodeURIComponent(key.key_id)}/limits`), limits);
    }
    await show(key);
  });
}

async function show(created) {
  const [keys, models] = await Promise.all([api("GET", accountPath("/keys")), api("GET", accountPath("/models"))]);
  render(
    created ? revealed(created) : null,
    createForm(models.data),
    h("h2", "Keys"),
    table([
      { label: "Name", cell: (k) => k.name || "—" },
      { label: "X-API-ID", cell: (k) => h("code", k.key_id) },
      { label: "Key", cell: (k) => h("code", `${k.display_prefix}…`) },
      { label: "Scopes", cell: (k) => k.scopes.join(", ") },
      { label: "Limits", cell: (k) => limitsText(k.limits) },
      { label: "Created", cell: (k) => when(k.created_at) },
      { label: "Last used", cell: (k) => when(k.last_used_at) },
      { label: "Status", cell: (k) => (k.revoked_at ? badge("revoked") : badge("active")) },
      { label: "", cell: (k) => (k.revoked_at ? "" : h("button.danger", { type: "button", on: { click: () => revoke(k) }, "aria-label": `Revoke ${k.name || k.key_id}` }, "Revoke")) },
    ], keys.data, "The account's keys"),
  );
  if (created) document.getElementById("new-key-title").scrollIntoView();
}

load(async () => {
  if (noAccount()) return;
  await show();
});
