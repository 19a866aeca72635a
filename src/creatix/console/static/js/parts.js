// Pieces more than one page shows: a generation's tile, the no-account notice.
import { accountId, badge, h, num, render, session } from "./console.js";

export function noAccount() {
  if (accountId()) return false;
  render(h("p.notice", session.operator
    ? "You belong to no account. The operator pages are in the menu."
    : "You belong to no account yet. Ask an operator to add you to one."));
  return true;
}

export function firstAsset(generation) {
  return generation.assets && generation.assets.length ? generation.assets[0] : null;
}

export function media(asset, { controls = false } = {}) {
  if (!asset) return h("div.placeholder");
  if (asset.kind === "video" || (asset.mime_type || "").startsWith("video/")) {
    return h("video", { src: asset.url, controls, muted: !controls, preload: "metadata", playsinline: true });
  }
  return h("img", { src: asset.thumbnail_url || asset.url, alt: "", loading: "lazy", width: asset.width, height: asset.height });
}

export function describe(generation) {
  const spec = generation.spec || {};
  return spec.prompt || spec.system_instruction || (spec.messages && spec.messages.length ? spec.messages[0].content : "") || generation.model;
}

export function thumbnail(generation) {
  const label = describe(generation);
  return h("a.tile", { href: `/console/gallery#${generation.id}`, "aria-label": `${generation.kind}: ${label}` },
    generation.kind === "text" ? h("pre", (generation.text || "").slice(0, 200)) : media(firstAsset(generation)),
    h("div.meta", h("p", label), h("p", badge(generation.status), " ", generation.model, " · ", num(generation.credits_charged), " credits")));
}
