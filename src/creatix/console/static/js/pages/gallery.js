// Gallery: the account's images and videos, newest first, filtered by model, status and
// date; a generation's detail (#id) with download, delete, animate and use-as-input.
import { accountPath, api, field, h, input, load, onSubmit, render, select, value } from "../console.js";
import { downloadLink, facts, follow, generationPath, progressView, results, TERMINAL } from "../generations.js";
import { firstAsset, media, noAccount, thumbnail } from "../parts.js";

const STATUSES = ["", "queued", "running", "succeeded", "failed", "canceled"];
let filters = { kind: "", model: "", status: "", since: "", until: "" };

function query(cursor) {
  const search = new URLSearchParams({ limit: "24" });
  for (const [name, v] of Object.entries(filters)) if (v) search.set(name, v);
  if (filters.until) search.set("until", `${filters.until}T23:59:59Z`);
  if (filters.since) search.set("since", `${filters.since}T00:00:00Z`);
  if (cursor) search.set("cursor", cursor);
  return accountPath(`/generations?${search}`);
}

function filterForm(models) {
  const form = h("form.card.row", { "aria-label": "Filter the gallery", novalidate: true },
    field("Kind", select("kind", [{ value: "", label: "Images and videos" }, { value: "image", label: "Images" }, { value: "video", label: "Videos" }, { value: "text", label: "Ad copy" }])),
    field("Model", select("model", [{ value: "", label: "Any" }, ...models.map((m) => ({ value: m.id, label: m.id, selected: m.id === filters.model }))])),
    field("Status", select("status", STATUSES.map((s) => ({ value: s, label: s || "Any", selected: s === filters.status })))),
    field("From", input("since", { type: "date", value: filters.since })),
    field("To", input("until", { type: "date", value: filters.until })),
    h("div.field", h("button.primary", { type: "submit" }, "Filter")));
  form.elements.kind.value = filters.kind;
  return onSubmit(form, async () => {
    filters = Object.fromEntries(Object.keys(filters).map((name) => [name, value(form, name) || ""]));
    await showGrid(models, form);
  });
}

async function page(cursor) {
  const answer = await api("GET", query(cursor));
  const grid = h("div.grid", answer.data.filter((g) => filters.kind || g.kind !== "text").map(thumbnail));
  const more = answer.next_cursor ? h("button", { type: "button", on: { click: async () => more.replaceWith(...await page(answer.next_cursor)) } }, "Load more") : null;
  return [answer.data.length || cursor ? grid : h("p", "No generations match."), more];
}

async function showGrid(models, form) {
  const items = h("section", { id: "gallery" });
  render(form || filterForm(models), items);
  items.replaceChildren(...(await page(null)).filter(Boolean));
}

function actions(generation) {
  const asset = firstAsset(generation);
  const image = asset && generation.kind === "image";
  const remove = async () => {
    if (!confirm("Delete this generation and its files? This cannot be undone.")) return;
    await api("DELETE", generationPath(generation.id));
    location.hash = "";
  };
  return h("div.row",
    generation.assets.map(downloadLink),
    image ? h("a", { href: `/console/playground?tab=video&source_asset=${encodeURIComponent(asset.id)}` }, "Animate") : null,
    image ? h("a", { href: `/console/playground?input_image=${encodeURIComponent(asset.id)}` }, "Use as input image") : null,
    h("button.danger", { type: "button", on: { click: () => remove().catch((e) => alert(e.message)) } }, "Delete"),
    h("a", { href: "/console/gallery" }, "Back to the gallery"));
}

async function showDetail(id, models) {
  const generation = await api("GET", generationPath(id));
  const body = h("div", generation.kind === "text" ? results(generation)
    : h("div", generation.assets.map((a) => media(a, { controls: true }))));
  const side = h("aside.card", facts(generation));
  render(h("div.detail", { id: "detail" }, h("div", body, actions(generation)), side));
  if (!TERMINAL.has(generation.status)) {
    const done = await follow(generation, (g) => body.replaceChildren(progressView(g)));
    await showDetail(done.id, models);
  }
}

load(async () => {
  if (noAccount()) return;
  const models = (await api("GET", accountPath("/models"))).data;
  const route = () => load(() => (location.hash.length > 1 ? showDetail(decodeURIComponent(location.hash.slice(1)), models) : showGrid(models)));
  window.addEventListener("hashchange", route);
  await route();
});
