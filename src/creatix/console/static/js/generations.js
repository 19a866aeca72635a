// Making generations from the console: submitting, following one to its end, showing it.
import { accountPath, api, badge, bytes, h, num, seconds, when } from "./console.js";
import { media } from "./parts.js";

export const TERMINAL = new Set(["succeeded", "failed", "canceled"]);

export const generationPath = (id) => accountPath(`/generations/${encodeURIComponent(id)}`);

/** Polls a generation until it ends, calling `onUpdate` with each state seen. */
export async function follow(generation, onUpdate, interval = 400) {
  let current = generation;
  onUpdate(current);
  while (!TERMINAL.has(current.status)) {
    await new Promise((resolve) => setTimeout(resolve, interval));
    current = await api("GET", generationPath(current.id));
    onUpdate(current);
  }
  return current;
}

/** A live status line: a progress bar while it runs, the outcome when it ends. */
export function progressView(generation) {
  const fraction = generation.progress ?? (generation.status === "succeeded" ? 1 : 0);
  const label = generation.status === "running" ? `Running: ${Math.round(fraction * 100)}%`
    : generation.status === "queued" ? "Queued…" : generation.status === "succeeded" ? "Done" : generation.status;
  return h("div.card", { role: "status", id: "progress" },
    h("p", badge(generation.status), " ", label),
    TERMINAL.has(generation.status) ? null : h("progress", { max: 1, value: fraction, "aria-label": "Progress" }),
    generation.error ? h("p.notice.bad", `${generation.error.message} (${generation.error.code})`) : null);
}

export function downloadLink(asset, index) {
  const extension = (asset.mime_type || "").split("/")[1] || "bin";
  return h("a", { href: asset.url, download: `${asset.id}.${extension}` }, `Download ${index + 1} (${bytes(asset.bytes)})`);
}

/** The results of a finished generation: a grid of images, a player, or a text answer. */
export function results(generation) {
  if (generation.kind === "text") return textAnswer(generation);
  return h("div.grid", { id: "results" }, generation.assets.map((asset, i) =>
    h("figure.tile", media(asset, { controls: true }), h("figcaption.meta", downloadLink(asset, i)))));
}

function textAnswer(generation) {
  const text = generation.text || "";
  const wantsJson = Boolean(generation.spec && generation.spec.response_schema);
  if (wantsJson) {
    try {
      const parsed = JSON.parse(text);
      return h("section.card", { id: "results" }, h("p", badge("ok"), " JSON, checked against your schema by the server"),
        h("pre", JSON.stringify(parsed, null, 2)));
    } catch (error) {
      return h("section.card", { id: "results" }, h("p.notice.bad", `The answer is not JSON: ${error.message}`), h("pre", text));
    }
  }
  return h("section.card", { id: "results" }, h("pre", text));
}

/** What a generation was asked and what it cost, as a definition list. */
export function facts(generation) {
  const spec = generation.spec || {};
  const rows = [
    ["Status", badge(generation.status)],
    ["Model", generation.model],
    ["Engine", generation.engine],
    ["Prompt", spec.prompt],
    ["Negative prompt", spec.negative_prompt],
    ["Size", spec.width && spec.height ? `${spec.width} × ${spec.height}` : null],
    ["Images", spec.n],
    ["Seed", spec.seed],
    ["Style", spec.style],
    ["Input image", spec.input_image ? h("code", spec.input_image) : null],
    ["Source image", spec.source_asset ? h("code", spec.source_asset) : null],
    ["Duration", spec.duration ? `${spec.duration} s` : null],
    ["Resolution", spec.resolution],
    ["Cost", `${num(generation.credits_charged)} credits (${num(generation.credits_reserved)} reserved)`],
    ["Created", when(generation.created_at)],
    ["Waited", seconds(generation.created_at, generation.started_at)],
    ["Ran", seconds(generation.started_at, generation.finished_at)],
    ["Made through", generation.source],
    ["Id", h("code", generation.id)],
  ];
  return h("dl.facts", rows.filter(([, v]) => v !== null && v !== undefined && v !== "")
    .map(([k, v]) => [h("dt", k), h("dd", v)]));
}
