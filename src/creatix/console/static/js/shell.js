// What every signed-in page has: the menu on narrow screens, the account switch, sign-out.
import { accountId, api, chooseAccount, h, session } from "./console.js";

const toggle = document.querySelector(".menu-toggle");
const nav = document.getElementById("nav");
toggle.addEventListener("click", () => {
  const open = nav.classList.toggle("open");
  toggle.setAttribute("aria-expanded", String(open));
});

const picker = document.getElementById("account-select");
if (session.accounts.length > 1) {
  for (const account of session.accounts) {
    picker.append(h("option", { value: account.id, selected: account.id === accountId() }, account.name));
  }
  picker.hidden = false;
  picker.addEventListener("change", () => {
    chooseAccount(picker.value);
    location.reload();
  });
}

document.getElementById("sign-out").addEventListener("click", async () => {
  try {
    await api("DELETE", "/api/session");
  } finally {
    location.assign("/console/sign-in");
  }
});
