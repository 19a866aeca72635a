// An invitation's or password reset's link carries its token in the fragment (#token=…),
// which never reaches a server log or a Referer header.
import { api, onSubmit } from "./console.js";

const form = document.getElementById("accept-invitation");
const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
onSubmit(form, async () => {
  await api("POST", "/api/session/accept-invitation", { token, password: form.elements.password.value });
  location.assign("/console/");
});
