// Operator models: every catalog model with its engine and whether that engine can serve it.
import { api, badge, h, load, render, table } from "../console.js";

load(async () => {
  const models = (await api("GET", "/api/admin/models")).data;
  const down = models.filter((m) => !m.available).length;
  render(
    h("p", down ? h("span", { class: "badge bad" }, `${down} unavailable`) : h("span", { class: "badge ok" }, "All available"),
      ` ${models.length} models in the catalog.`),
    table([
      { label: "Id", cell: (m) => h("code", m.id) },
      { label: "Kind", cell: (m) => m.kind },
      { label: "Name", cell: (m) => m.display_name },
      { label: "Engine", cell: (m) => m.engine },
      { label: "Engine type", cell: (m) => m.engine_type },
      { label: "Available", cell: (m) => (m.available ? badge("ok") : badge("bad")) },
      { label: "Why not", cell: (m) => m.unavailable_reason || (m.available ? "" : "—") },
    ], models, "Models and their engines"));
});
