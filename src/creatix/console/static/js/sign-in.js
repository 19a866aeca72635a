// Signing in: the API's own error goes beside the field it names.
import { api, onSubmit, value } from "./console.js";

const form = document.getElementById("sign-in");
onSubmit(form, async () => {
  await api("POST", "/api/session", { email: value(form, "email") || "", password: form.elements.password.value });
  location.assign(form.dataset.next || "/console/");
});
