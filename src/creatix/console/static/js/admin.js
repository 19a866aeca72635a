// What the operator pages share: the accounts to pick from and a place for a row action's outcome.
import { api, h, problem, select } from "./console.js";

/** Every account (not deleted), by name. */
export async function listAccounts() {
  return (await api("GET", "/api/admin/accounts")).data;
}

/** A select of the accounts; the empty value is `none` ("All accounts", "No account"…). */
export function accountSelect(name, accounts, { none = "All accounts", chosen = "" } = {}) {
  return select(name, [
    { value: "", label: none, selected: !chosen },
    ...accounts.map((a) => ({ value: a.id, label: a.name, selected: a.id === chosen })),
  ]);
}

/** A live region for what a button outside any form did (or why it failed). */
export function outcomeSlot() {
  return h("div", { id: "outcome", "aria-live": "polite" });
}

/** Runs a row action: what it returns (a node or nothing) or its error goes in `slot`. */
export async function act(slot, fn) {
  slot.replaceChildren();
  try {
    const shown = await fn();
    if (shown) slot.replaceChildren(shown);
  } catch (error) {
    if (error.status !== 401) slot.replaceChildren(problem(error));
  }
  slot.scrollIntoView({ block: "nearest" });
}

export const yesNo = (flag) => (flag ? "yes" : "—");
