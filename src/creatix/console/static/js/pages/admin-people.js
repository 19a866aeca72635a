// Operator people: everyone (or one account's people); invite, reset a password, disable.
import { api, badge, copyButton, field, h, input, load, onSubmit, render, select, table, value, when } from "../console.js";
import { accountSelect, act, listAccounts, outcomeSlot, yesNo } from "../admin.js";

let accounts = [];
let filterId = "";

/** The one-time link that sets a password; the token stays in the fragment, out of logs. */
function linkCard(title, email, token) {
  const link = `${location.origin}/console/accept-invitation#token=${encodeURIComponent(token.token)}`;
  return h("section.card", { "aria-label": title },
    h("h2", title),
    h("p.notice", `Send this link to ${email}: it is shown only once and works until ${when(token.expires_at)}.`),
    h("div.secret", h("code", { id: "one-time-link" }, link), copyButton(link, "Copy link")));
}

function inviteForm() {
  const form = h("form.card", { "aria-labelledby": "invite-title", novalidate: true },
    h("h2", { id: "invite-title" }, "Invite someone"),
    h("div.row",
      field("Email", input("email", { type: "email", maxlength: 1000, autocomplete: "off", required: true })),
      field("Account", accountSelect("account_id", accounts, { none: "No account", chosen: filterId })),
      field("Role there", select("role", ["member", "owner"]))),
    h("label.check", h("input", { type: "checkbox", name: "operator" }), "Operator (may run the whole platform)"),
    h("p", h("button.primary", { type: "submit" }, "Invite")));
  return onSubmit(form, async () => {
    const accountId = value(form, "account_id");
    const invited = await api("POST", "/api/admin/people", {
      email: value(form, "email") || "",
      operator: value(form, "operator"),
      account_id: accountId,
      role: accountId ? value(form, "role") : null,
    });
    const { email } = invited.person;
    await show(invited.invitation ? linkCard(`Invitation for ${email}`, email, invited.invitation)
      : h("p.notice", `${email} could already sign in; they were added.`));
  });
}

function filterForm() {
  const form = h("form.card.row", { "aria-label": "Filter people", novalidate: true },
    field("Account", accountSelect("account_id", accounts, { chosen: filterId })),
    h("div.field", h("button.primary", { type: "submit" }, "Filter")));
  return onSubmit(form, async () => {
    filterId = value(form, "account_id") || "";
    await show();
  });
}

function actions(person, slot) {
  const reset = () => act(slot, async () =>
    linkCard(`Password reset for ${person.email}`, person.email,
      await api("POST", `/api/admin/people/${encodeURIComponent(person.id)}/password-reset`)));
  const disable = () => act(slot, async () => {
    if (!confirm(`Disable ${person.email}? They can no longer sign in and their sessions end at once.`)) return;
    await api("POST", `/api/admin/people/${encodeURIComponent(person.id)}/disable`);
    await show(h("p.notice", `${person.email} disabled.`));
  });
  return h("div.row",
    h("button", { type: "button", "aria-label": `Reset the password of ${person.email}`, on: { click: reset } }, "Reset password"),
    person.status === "disabled" ? null
      : h("button.danger", { type: "button", "aria-label": `Disable ${person.email}`, on: { click: disable } }, "Disable"));
}

const memberships = (person) => person.memberships.map((m) => `${m.account_name} (${m.role})`).join(", ") || "—";

async function show(notice) {
  const query = filterId ? `?account_id=${encodeURIComponent(filterId)}` : "";
  const people = (await api("GET", `/api/admin/people${query}`)).data;
  const slot = outcomeSlot();
  if (notice) slot.append(notice);
  render(slot, inviteForm(), h("h2", "People"), filterForm(),
    table([
      { label: "Email", cell: (p) => p.email },
      { label: "Operator", cell: (p) => yesNo(p.operator) },
      { label: "Status", cell: (p) => badge(p.status) },
      { label: "Memberships", cell: memberships },
      { label: "Last sign-in", cell: (p) => when(p.last_login_at) },
      { label: "", cell: (p) => actions(p, slot) },
    ], people, "People"));
}

load(async () => {
  accounts = await listAccounts();
  await show();
});
