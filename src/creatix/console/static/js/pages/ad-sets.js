// Ad sets: a brief made into every placement's size in a brand kit. A product image is
// uploaded when chosen (…/uploads) and its path goes into the brief; the form is quoted as it
// changes (…/ad-sets/quote) and submits one set; the board follows it (polled every 2 s) and
// then shows each creative by variant and placement, with its copy and a download link. The
// account's recent sets are listed below.
import {
  accountPath, api, ApiError, asField, badge, bytes, field, h, input, load, num, numberValue, onSubmit, render,
  select, showError, value, when,
} from "../console.js";
import { noAccount } from "../parts.js";

const PRESETS = [
  ["square_feed", "Square feed", 1080, 1080], ["portrait_feed", "Portrait feed", 1080, 1350],
  ["story", "Story / reel", 1080, 1920], ["landscape_link", "Landscape link", 1200, 628],
  ["display_300x250", "Display", 300, 250], ["display_728x90", "Display", 728, 90],
  ["display_160x600", "Display", 160, 600], ["display_300x600", "Display", 300, 600],
  ["display_970x250", "Display", 970, 250],
];
const POLL_MS = 2000;
const QUOTE_DELAY_MS = 300;
const MAX_IMAGE_BYTES = 10 * 1024 * 1024; // the upload's own limit (uploads.service)
const IMAGE_FIELD = "inputImagePath"; // the file control, named as the API's `brief.inputImagePath`
const params = new URLSearchParams(location.search);
const setPath = (id) => accountPath(`/ad-sets/${encodeURIComponent(id)}`);

function modelOptions(models, kind, preferred) {
  const offered = models.filter((m) => m.kind === kind);
  const chosen = offered.some((m) => m.id === preferred) ? preferred : (offered[0] || {}).id;
  return offered.map((m) => ({
    value: m.id, selected: m.id === chosen,
    label: `${m.name || m.id}${m.available ? "" : ` (unavailable: ${m.unavailable_reason})`}`,
  }));
}

function placementsField() {
  const chosen = new Set(["square_feed", "story"]);
  const group = h("fieldset.field", { name: "placements", id: "placements", "aria-describedby": "placements-error" },
    h("legend", "Placements"),
    h("div.row", PRESETS.map(([name, label, width, height]) => h("label",
      h("input", { type: "checkbox", name: "placement", value: name, checked: chosen.has(name) }),
      ` ${label} ${width}×${height}`))),
    h("div.row",
      field("Custom width", input("customWidth", { type: "number", min: 64, max: 4096, inputmode: "numeric" })),
      field("Custom height", input("customHeight", { type: "number", min: 64, max: 4096, inputmode: "numeric" }))),
    h("p.field-error", { id: "placements-error", hidden: true }));
  return group;
}

function placementsOf(form) {
  const placements = [...form.querySelectorAll("input[name=placement]:checked")].map((box) => box.value);
  const width = numberValue(form, "customWidth");
  const height = numberValue(form, "customHeight");
  if (width !== null || height !== null) placements.push({ width, height });
  return placements;
}

function briefBody(form, imagePath) {
  const brief = Object.fromEntries(["product", "audience", "offer", "cta"]
    .map((name) => [name, value(form, name)]).filter(([, text]) => text !== null));
  if (imagePath) brief.inputImagePath = imagePath;
  return {
    brandKitId: value(form, "brandKitId"),
    brief,
    placements: placementsOf(form),
    variants: numberValue(form, "variants"),
    imageModel: value(form, "imageModel"),
    copyModel: value(form, "copyModel"),
  };
}

/** Sends `file` as the multipart field `file` of POST …/uploads; an error answer becomes an
 * ApiError naming the product image's field. */
async function uploadImage(file) {
  if (file.size > MAX_IMAGE_BYTES) {
    throw new ApiError(413, "file_too_large",
      `The image is ${bytes(file.size)}; upload at most ${bytes(MAX_IMAGE_BYTES)}.`, IMAGE_FIELD);
  }
  const body = new FormData();
  body.append("file", file);
  try {
    return await api("POST", accountPath("/uploads"), body);
  } catch (error) {
    throw asField(error, IMAGE_FIELD);
  }
}

/** The product image's file field: uploads on choose; `path()` is the upload's path (null
 * before one succeeded), `ready()` waits for an upload under way. Its own line tells how the
 * upload went, so a quote's errors never hide an upload's. */
function productImage() {
  const control = h("input", { type: "file", name: IMAGE_FIELD, accept: "image/png,image/jpeg,image/webp" });
  const status = h("p.hint", { id: "product-image-status", "aria-live": "polite" });
  let path = null;
  let pending = Promise.resolve();
  const failedAs = (message) => {
    control.dataset.uploadFailed = message ? "true" : "";
    if (message) control.setAttribute("aria-invalid", "true");
    else control.removeAttribute("aria-invalid");
  };
  control.addEventListener("change", () => {
    path = null;
    failedAs(null);
    const file = control.files[0];
    status.textContent = file ? `Uploading ${file.name}…` : "";
    if (!file) return;
    pending = uploadImage(file).then((uploaded) => {
      if (control.files[0] !== file) return;
      path = uploaded.path;
      status.textContent = `Uploaded ${file.name} (${bytes(file.size)}).`;
      control.form.dispatchEvent(new Event("change")); // re-quote with the image (not re-upload)
    }, (error) => {
      failedAs(error.message);
      status.textContent = `Not uploaded: ${error.message}`;
    });
  });
  const wrapped = field("Product image (optional)", control,
    "A PNG, JPEG or WebP photo of the product (at most 10 MB) for the key visuals; the image model must take an input image.");
  control.setAttribute("aria-describedby", `${control.getAttribute("aria-describedby")} ${status.id}`);
  return {
    node: h("div", wrapped, status),
    path: () => path,
    ready: () => pending,
  };
}

/** What must be filled in before the form can be quoted, if anything. */
function missingForQuote(form, body) {
  const empty = ["product", "audience", "offer"].filter((name) => !body.brief[name]);
  if (empty.length) return `the ${empty.join(", ")}`;
  if (!body.placements.length) return "a placement";
  const custom = [numberValue(form, "customWidth"), numberValue(form, "customHeight")];
  if (custom.filter((side) => side === null).length === 1) return "both sides of the custom size";
  if (body.variants === null) return "the variants";
  return null;
}

/** Re-quotes the form (debounced) as it changes: the credits the set would reserve, or the
 * API's refusal beside the field its `param` names. `cancel()` drops a quote under way (a
 * submission's errors are not the quote's to clear). */
function quoting(form, bodyOf, line) {
  let timer = null;
  let ticket = 0;
  async function update() {
    const mine = ++ticket;
    const body = bodyOf();
    const missing = missingForQuote(form, body);
    if (missing) {
      line.textContent = `Fill in ${missing} to see the cost.`;
      return;
    }
    try {
      const quote = await api("POST", accountPath("/ad-sets/quote"), body);
      if (mine !== ticket) return;
      clearQuoteError(form);
      line.textContent = `This set will reserve ${num(quote.credits)} credits.`;
    } catch (error) {
      if (mine !== ticket || !(error instanceof ApiError) || error.code === "session_ended") return;
      clearQuoteError(form);
      line.textContent = `Cannot quote: ${error.message}`;
      const focused = document.activeElement;
      showError(form, error);
      if (focused && focused !== document.activeElement) focused.focus(); // keep the typist's place
    }
  }
  const later = () => {
    clearTimeout(timer);
    timer = setTimeout(update, QUOTE_DELAY_MS);
  };
  form.addEventListener("input", later);
  form.addEventListener("change", later);
  update();
  return {
    cancel() {
      clearTimeout(timer);
      ticket++;
    },
  };
}

/** Takes back what the last quote showed beside a field (an upload's line is its own). */
function clearQuoteError(form) {
  for (const node of form.querySelectorAll("[aria-invalid]")) {
    if (node.dataset.uploadFailed !== "true") node.removeAttribute("aria-invalid");
  }
  for (const node of form.querySelectorAll(".field-error, .form-error")) {
    node.hidden = true;
    node.textContent = "";
  }
}

function setForm(kits, models, onMade) {
  const kitChosen = params.get("brand_kit");
  const image = productImage();
  const cost = h("p", { id: "quote", "aria-live": "polite" });
  const form = h("form.card", { "aria-label": "New ad set", novalidate: true },
    h("h2", "New ad set"),
    field("Brand kit", select("brandKitId", kits.map((k) => ({ value: k.id, label: k.name, selected: k.id === kitChosen })))),
    field("Product", input("product", { required: true, maxlength: 200 })),
    field("Audience", input("audience", { required: true, maxlength: 200 })),
    field("Offer", input("offer", { required: true, maxlength: 200 })),
    field("Call to action", input("cta", { maxlength: 40 }), "Empty: the kit's default, else the copy model writes one."),
    image.node,
    placementsField(),
    field("Variants", input("variants", { type: "number", min: 1, max: 6, value: 1 })),
    field("Image model", select("imageModel", modelOptions(models, "image", "creatix-flash"))),
    field("Copy model", select("copyModel", modelOptions(models, "text", "gemini-2.5-flash"))),
    cost,
    h("p.muted", "Credits: the sum of the copy and each variant's key visual, reserved when the set starts; a failed part is refunded."),
    h("button.primary", { type: "submit" }, "Make the ad set"));
  const quotes = quoting(form, () => briefBody(form, image.path()), cost);
  onSubmit(form, async () => {
    quotes.cancel();
    await image.ready();
    const made = await api("POST", accountPath("/ad-sets"), briefBody(form, image.path()),
      { headers: { "Idempotency-Key": crypto.randomUUID() } });
    await onMade(made.id);
  });
  return form;
}

function creative(variant, item) {
  const name = `variant-${variant.index + 1}-${item.placement}.png`;
  const image = h("img", { src: item.url, alt: `${variant.copy ? variant.copy.headline : "Creative"} (${item.placement})`, loading: "lazy", width: item.width, height: item.height });
  image.style.aspectRatio = `${item.width} / ${item.height}`; // the whole creative, uncropped (CSSOM)
  image.style.objectFit = "contain";
  return h("figure.tile.creative", { dataset: { placement: item.placement, variant: String(variant.index) } },
    image,
    h("figcaption.meta", h("p", `${item.placement} · ${item.width}×${item.height}`),
      h("a", { href: item.url, download: name }, `Download ${item.placement}`)));
}

function variantView(variant) {
  return h("section.card.variant", { "aria-label": `Variant ${variant.index + 1}` },
    h("h3", `Variant ${variant.index + 1} `, badge(variant.status)),
    variant.copy ? h("dl.facts",
      h("dt", "Headline"), h("dd", variant.copy.headline),
      h("dt", "Body"), h("dd", variant.copy.body),
      h("dt", "Call to action"), h("dd", variant.copy.cta)) : null,
    variant.error ? h("p.notice.bad", variant.error) : null,
    h("div.grid", variant.creatives.map((item) => creative(variant, item))));
}

function board(set) {
  const done = set.status !== "processing";
  return h("section", { id: "board", "aria-label": "Ad set board" },
    h("h2", "Ad set ", h("code", set.id.slice(0, 8)), " ", badge(set.status)),
    h("div.card", { role: "status" },
      h("p", done ? "Finished" : `Making: ${set.progress}%`, ` · ${num(set.creditsCharged)} credits charged (${num(set.creditsReserved)} reserved)`),
      done ? null : h("progress", { max: 100, value: set.progress, "aria-label": "Ad set progress" }),
      h("ul", set.parts.map((part) => h("li",
        part.role === "copy" ? "Copy" : `Key visual ${part.variant + 1}`, " ", badge(part.status),
        ` ${part.progress}%`, part.error ? ` — ${part.error}` : "")))),
    set.variants.map(variantView));
}

/** Shows a set on the board, polling it every 2 s until every variant has ended. */
async function follow(id, slot) {
  for (;;) {
    const { adSet } = await api("GET", setPath(id));
    slot.replaceChildren(board(adSet));
    if (adSet.status !== "processing" || location.hash !== `#${id}`) return;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function recent(sets) {
  if (!sets.length) return h("p.muted", "No ad sets yet.");
  return h("ul", sets.map((set) => h("li",
    h("a", { href: `#${set.id}` }, `${when(set.createdAt)} — ${set.placements.length} placements, ${set.variants.length} variants`),
    " ", badge(set.status))));
}

load(async () => {
  if (noAccount()) return;
  const [{ brandKits }, models, sets] = await Promise.all([
    api("GET", accountPath("/brand-kits")), api("GET", accountPath("/models")), api("GET", accountPath("/ad-sets?limit=10"))]);
  const slot = h("div", { id: "board-slot", "aria-live": "polite" });
  const listed = h("div", recent(sets));
  const open = async (id) => {
    if (location.hash !== `#${id}`) history.replaceState(null, "", `#${id}`);
    await follow(id, slot);
    listed.replaceChildren(recent(await api("GET", accountPath("/ad-sets?limit=10"))));
  };
  const intro = brandKits.length ? setForm(brandKits, models.data, open)
    : h("p.notice", "Make a brand kit first: ", h("a", { href: "/console/brand-kits" }, "Brand kits"), ".");
  render(intro, slot, h("section", h("h2", "Recent ad sets"), listed));
  window.addEventListener("hashchange", () => {
    if (location.hash.length > 1) load(() => follow(location.hash.slice(1), slot));
  });
  if (location.hash.length > 1) await follow(location.hash.slice(1), slot);
});
