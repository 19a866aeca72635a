// Settings: change the password, end every session.
import { api, field, h, input, load, onSubmit, render, session } from "../console.js";

load(async () => {
  const form = h("form.card", { "aria-labelledby": "password-title", novalidate: true },
    h("h2", { id: "password-title" }, "Change password"),
    field("Current password", input("current_password", { type: "password", autocomplete: "current-password" })),
    field("New password", input("new_password", { type: "password", autocomplete: "new-password" }), "At least 12 characters, not a common password."),
    h("p.notice", { id: "password-done", hidden: true, role: "status" }, "Password changed."),
    h("button.primary", { type: "submit" }, "Change password"));
  onSubmit(form, async () => {
    await api("POST", "/api/session/password", {
      current_password: form.elements.current_password.value,
      new_password: form.elements.new_password.value,
    });
    form.reset();
    document.getElementById("password-done").hidden = false;
  });
  const everywhere = h("section.card", h("h2", "Sessions"),
    h("p", `Signed in as ${session.email}.`),
    h("button.danger", { type: "button", on: { click: async () => {
      await api("POST", "/api/session/sign-out-everywhere");
      location.assign("/console/sign-in");
    } } }, "Sign out everywhere"));
  render(form, everywhere);
});
