// Playground: images, videos from the account's images, and ad copy; the exact pixels and
// the credit cost before submitting, live progress while it runs, the results after.
import {
  accountPath, api, ApiError, field, h, input, load, num, numberValue, onSubmit, render, select, showError, value,
} from "../console.js";
import { follow, progressView, results } from "../generations.js";
import { noAccount } from "../parts.js";

const TABS = [["image", "Images"], ["video", "Video"], ["text", "Ad copy"]];
const ASPECTS = ["1:1", "16:9", "9:16", "4:3", "3:4", "1:4", "4:1"];
const MOVEMENTS = ["auto", "small", "medium", "large"];
const params = new URLSearchParams(location.search);
/** The body without the fields left empty: the API's defaults apply to them. */
const filled = (body) => Object.fromEntries(Object.entries(body).filter(([, v]) => v !== null && v !== undefined));

function modelOptions(models, kind, chosen) {
  return models.filter((m) => m.kind === kind).map((m) => ({
    value: m.id,
    selected: m.id === chosen,
    label: `${m.name || m.id} — ${priceText(m)} — ${m.engine}${m.available ? "" : ` (unavailable: ${m.unavailable_reason})`}`,
  }));
}

function priceText(model) {
  const price = model.price || {};
  if (price.price_by && price.price_by.length) return `${num(Math.min(...Object.values(price.prices)))}+ credits/image`;
  if (price.credits_per_image !== undefined) return `${num(price.credits_per_image)} credits/image`;
  if (price.credits_by_duration) {
    return Object.entries(price.credits_by_duration).map(([s, c]) => `${num(c)} credits/${s} s`).join(", ");
  }
  if (price.credits_per_1k_output_tokens !== undefined) {
    return `${num(price.credits_per_1k_input_tokens)}/${num(price.credits_per_1k_output_tokens)} credits per 1k tokens in/out`;
  }
  return "free";
}

function modelOf(models, id) {
  return models.find((m) => m.id === id) || {};
}

/** Re-quotes the form's request on every change: the exact pixels and the credit cost.
 * `missing(body)` names what must be filled in first (no request is made until then). */
function quoting(form, bodyOf, target, missing) {
  let pending = 0;
  async function update() {
    const ticket = ++pending;
    let body;
    try {
      body = bodyOf(form);
    } catch (error) {
      target.textContent = "";
      return;
    }
    const needed = missing(body);
    if (needed) {
      target.textContent = `Fill in the ${needed} to see the cost.`;
      return;
    }
    try {
      const quote = await api("POST", accountPath("/generations/quote"), filled(body));
      if (ticket !== pending) return;
      const pixels = quote.width && quote.height ? `${quote.width} × ${quote.height} px · ` : "";
      target.textContent = `${pixels}${num(quote.credits)} credits`;
    } catch (error) {
      if (ticket !== pending || !(error instanceof ApiError)) return;
      target.textContent = `Cannot quote: ${error.message}`;
    }
  }
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
}

/** Submits, then follows the generation to its end in `output`. */
async function run(body, output) {
  const started = await api("POST", accountPath("/generations"), filled(body), { headers: { "Idempotency-Key": crypto.randomUUID() } });
  const done = await follow(started, (g) => output.replaceChildren(progressView(g)));
  if (done.status === "succeeded") output.append(results(done));
  return done;
}

function costLine() {
  return h("p.hint", { id: "quote", "aria-live": "polite" });
}

/** Keeps `slot` filled with the fields the chosen model takes, rebuilt when it changes. */
function followModel(form, models, slot, fieldsFor) {
  const refill = () => slot.replaceChildren(...fieldsFor(modelOf(models, value(form, "model")).limits || {}));
  form.elements.model.addEventListener("change", refill);
  refill();
}

function imageSizing(limits) {
  const byResolution = Object.keys(limits.resolutions || {});
  const sizing = byResolution.length
    ? [field("Resolution", select("resolution", byResolution)),
      limits.qualities && limits.qualities.length ? field("Quality", select("quality", limits.qualities)) : null]
    : [field("Size", select("size", (limits.sizes || []).map((s) => ({ value: s, label: s, selected: s === "1024x1024" }))))];
  return [...sizing, field("Aspect ratio", select("aspect_ratio", limits.aspect_ratios || ASPECTS)),
    field("Images", input("n", { type: "number", min: 1, max: limits.max_n || 4, value: 1 })),
    limits.supports_image_input && params.get("input_image")
      ? field("Input image", input("input_image", { value: params.get("input_image"), readonly: true }), "From the gallery.") : null,
  ].filter(Boolean);
}

/** The model asked for; with an input image from the gallery, the first that takes one. */
function defaultImageModel(models) {
  if (params.get("model") || !params.get("input_image")) return params.get("model");
  const taking = models.find((m) => m.kind === "image" && m.available && (m.limits || {}).supports_image_input);
  return taking ? taking.id : null;
}

function imageForm(models, styles, output) {
  const sizing = h("div.row");
  const form = h("form.card", { "aria-label": "Image generation", novalidate: true },
    field("Model", select("model", modelOptions(models, "image", defaultImageModel(models)))),
    field("Prompt", h("textarea", { name: "prompt", maxlength: 4000, required: true, placeholder: "A red sneaker on a white table, studio light" })),
    field("Negative prompt", input("negative_prompt", { maxlength: 4000 })),
    sizing,
    h("div.row",
      field("Style", select("style", [{ value: "", label: "None" }, ...styles.map((s) => ({ value: s.id, label: s.name || s.id }))])),
      field("Seed", input("seed", { type: "number", min: 0, placeholder: "random" }))),
    costLine(),
    h("button.primary", { type: "submit" }, "Generate"));
  followModel(form, models, sizing, imageSizing);
  const optional = (name) => (form.elements.namedItem(name) ? value(form, name) : null);
  const bodyOf = () => ({
    kind: "image", model: value(form, "model"), prompt: value(form, "prompt") || "",
    negative_prompt: value(form, "negative_prompt"), size: optional("size"), resolution: optional("resolution"),
    quality: optional("quality"), aspect_ratio: value(form, "aspect_ratio"), style: value(form, "style"),
    n: numberValue(form, "n") ?? 1, seed: numberValue(form, "seed"), input_image: optional("input_image"),
  });
  quoting(form, bodyOf, form.querySelector("#quote"), (body) => (body.prompt ? null : "prompt"));
  return onSubmit(form, () => run(bodyOf(), output));
}

function videoOptions(limits) {
  return [
    field("Duration (s)", select("duration", (limits.durations || []).map(String))),
    field("Resolution", select("resolution", limits.resolutions || [])),
    field("Movement", select("movement", MOVEMENTS)),
    limits.supports_audio ? h("div.field", h("label.check", h("input", { type: "checkbox", name: "audio" }), "Audio")) : null,
  ].filter(Boolean);
}

async function sourceImages() {
  const images = await api("GET", accountPath("/generations?kind=image&status=succeeded&limit=50"));
  const chosen = params.get("source_asset");
  const sources = images.data.flatMap((g) => g.assets.map((a, i) => ({
    value: a.id, label: `${(g.spec.prompt || g.id).slice(0, 60)}${g.assets.length > 1 ? ` #${i + 1}` : ""}`, selected: a.id === chosen,
  })));
  if (chosen && !sources.some((s) => s.value === chosen)) sources.unshift({ value: chosen, label: chosen, selected: true });
  return sources.length ? sources : [{ value: "", label: "Make an image first" }];
}

async function videoForm(models, output) {
  const options = h("div.row");
  const form = h("form.card", { "aria-label": "Video generation", novalidate: true },
    field("Source image", select("source_asset", await sourceImages())),
    field("Model", select("model", modelOptions(models, "video"))),
    field("Prompt", h("textarea", { name: "prompt", maxlength: 4000, placeholder: "Smooth camera orbit around the product" })),
    options,
    costLine(),
    h("button.primary", { type: "submit" }, "Animate"));
  followModel(form, models, options, videoOptions);
  const bodyOf = () => ({
    kind: "video", model: value(form, "model"), source_asset: value(form, "source_asset") || "",
    prompt: value(form, "prompt") || "", duration: numberValue(form, "duration"), resolution: value(form, "resolution"),
    audio: form.elements.namedItem("audio") ? value(form, "audio") : null, movement: value(form, "movement"),
  });
  quoting(form, bodyOf, form.querySelector("#quote"), (body) => (body.source_asset ? null : "source image"));
  return onSubmit(form, () => run(bodyOf(), output));
}

function textForm(models, output) {
  const form = h("form.card", { "aria-label": "Ad copy generation", novalidate: true },
    field("Model", select("model", modelOptions(models, "text"))),
    field("System instruction", h("textarea", { name: "system_instruction", maxlength: 8000, placeholder: "You write punchy ad copy." })),
    field("Message", h("textarea", { name: "content", maxlength: 16000, required: true, placeholder: "Three headlines for a cold brew subscription" })),
    field("Answer as JSON matching this JSON Schema (optional)", h("textarea", { name: "response_schema", placeholder: '{"type": "object", "properties": {"headlines": {"type": "array", "items": {"type": "string"}}}}' })),
    field("Most tokens in the answer", input("max_output_tokens", { type: "number", min: 1, placeholder: "model's default" })),
    costLine(),
    h("button.primary", { type: "submit" }, "Write"));
  const bodyOf = () => {
    const schemaText = value(form, "response_schema");
    let schema = null;
    if (schemaText) {
      try {
        schema = JSON.parse(schemaText);
      } catch (error) {
        throw new ApiError(400, "invalid_json", `The schema is not JSON: ${error.message}`, "response_schema");
      }
    }
    return {
      kind: "text", model: value(form, "model"), system_instruction: value(form, "system_instruction"),
      messages: [{ role: "user", content: value(form, "content") || "" }], response_schema: schema,
      max_output_tokens: numberValue(form, "max_output_tokens"),
    };
  };
  quoting(form, bodyOf, form.querySelector("#quote"), (body) => (body.messages[0].content ? null : "message"));
  form.addEventListener("change", (event) => {
    if (event.target.name !== "response_schema") return;
    try {
      bodyOf();
    } catch (error) {
      showError(form, error);
    }
  });
  return onSubmit(form, () => run(bodyOf(), output));
}

load(async () => {
  if (noAccount()) return;
  const [models, styles] = await Promise.all([api("GET", accountPath("/models")), api("GET", accountPath("/styles"))]);
  const output = h("section", { id: "output", "aria-live": "polite" });
  const panel = h("div");
  const tabs = h("div.tabs", { role: "tablist", "aria-label": "What to make" });
  async function open(kind) {
    for (const button of tabs.children) button.setAttribute("aria-selected", String(button.dataset.kind === kind));
    output.replaceChildren();
    const form = kind === "image" ? imageForm(models.data, styles.data, output)
      : kind === "video" ? await videoForm(models.data, output) : textForm(models.data, output);
    panel.replaceChildren(form);
  }
  for (const [kind, label] of TABS) {
    tabs.append(h("button", { type: "button", role: "tab", dataset: { kind }, "aria-controls": "playground-panel", on: { click: () => open(kind) } }, label));
  }
  panel.id = "playground-panel";
  panel.setAttribute("role", "tabpanel");
  render(tabs, panel, output);
  await open(params.get("tab") || (params.get("source_asset") ? "video" : "image"));
});
