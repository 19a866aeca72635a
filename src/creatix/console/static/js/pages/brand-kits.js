// Brand kits: the account's kits (colours, font, logo, voice, call to action, legal line);
// create, edit, delete. JSON goes to …/brand-kits, each file to its own endpoint as itself.
import {
  accountPath, api, asField, field, h, input, load, onSubmit, render, select, showError, table, value, when,
} from "../console.js";
import { noAccount } from "../parts.js";

const COLORS = [["primary", "Primary colour", "#0a4d8c"], ["secondary", "Secondary colour", "#f2cc60"],
  ["background", "Background colour", "#ffffff"], ["text", "Text colour", "#111111"]];
const OWN_FONT = "__upload";

/** Sends a file as the raw body of PUT …/logo or …/font; an error answer becomes an ApiError
 * shown beside the form's file field (the API names `logo` or `font`, the kit's fields). */
async function putFile(kitId, what, file) {
  const type = file.type || (what === "font" ? "application/octet-stream" : "");
  try {
    return await api("PUT", accountPath(`/brand-kits/${encodeURIComponent(kitId)}/${what}`), file,
      { headers: { "Content-Type": type } });
  } catch (error) {
    throw asField(error, what === "font" ? "fontFile" : "logo");
  }
}

function kitBody(form) {
  const font = value(form, "font");
  const words = (value(form, "bannedWords") || "").split(",").map((w) => w.trim()).filter(Boolean);
  const body = {
    name: value(form, "name"),
    colors: Object.fromEntries(COLORS.map(([key]) => [key, form.elements.namedItem(key).value])),
    toneOfVoice: value(form, "toneOfVoice") || "",
    bannedWords: words,
    defaultCta: value(form, "defaultCta"),
    legalLine: value(form, "legalLine"),
  };
  if (font && font !== OWN_FONT) body.font = font;
  return body;
}

function kitForm(fonts, kit, done) {
  const chosenFont = kit ? (kit.font.source === "uploaded" ? OWN_FONT : kit.font.name) : "open-sans-bold";
  const fontOptions = [...fonts.map((f) => ({ value: f, label: f, selected: f === chosenFont })),
    { value: OWN_FONT, label: "My own font (upload below)", selected: chosenFont === OWN_FONT }];
  const form = h("form.card", { "aria-label": kit ? `Edit ${kit.name}` : "New brand kit", novalidate: true },
    h("h2", kit ? `Edit ${kit.name}` : "New brand kit"),
    field("Name", input("name", { required: true, maxlength: 120, value: kit ? kit.name : "" })),
    h("div.row", COLORS.map(([key, label, fallback]) =>
      field(label, input(key, { type: "color", value: kit ? kit.colors[key] : fallback })))),
    field("Font", select("font", fontOptions)),
    field("Font file (TTF or OTF)", h("input", { type: "file", name: "fontFile", accept: ".ttf,.otf,font/ttf,font/otf" }),
      "Uploading one replaces the bundled font."),
    field("Logo (PNG or SVG)", h("input", { type: "file", name: "logo", accept: "image/png,image/svg+xml,.png,.svg" }),
      kit && kit.logo ? "A logo is set; choose a file to replace it." : null),
    field("Tone of voice", input("toneOfVoice", { maxlength: 500, value: kit ? kit.toneOfVoice : "" })),
    field("Banned words", input("bannedWords", { value: kit ? kit.bannedWords.join(", ") : "" }), "Separated by commas."),
    field("Default call to action", input("defaultCta", { maxlength: 60, value: kit && kit.defaultCta ? kit.defaultCta : "" })),
    field("Legal line", input("legalLine", { maxlength: 200, value: kit && kit.legalLine ? kit.legalLine : "" })),
    h("div.row", h("button.primary", { type: "submit" }, kit ? "Save kit" : "Create kit"),
      kit ? h("button", { type: "button", on: { click: done } }, "Cancel") : null));
  let current = kit;
  onSubmit(form, async () => {
    const body = kitBody(form);
    const saved = current
      ? await api("PATCH", accountPath(`/brand-kits/${encodeURIComponent(current.id)}`), body)
      : await api("POST", accountPath("/brand-kits"), body);
    current = saved; // a file refused below: trying again changes this kit, never makes another
    const fontFile = form.elements.namedItem("fontFile").files[0];
    const logo = form.elements.namedItem("logo").files[0];
    if (fontFile) await putFile(saved.id, "font", fontFile);
    if (logo) await putFile(saved.id, "logo", logo);
    await done();
  });
  return form;
}

function swatches(kit) {
  return h("span.row", COLORS.map(([key, label]) => {
    const swatch = h("span.swatch", { title: `${label}: ${kit.colors[key]}`, role: "img", "aria-label": `${label} ${kit.colors[key]}` });
    swatch.style.background = kit.colors[key]; // CSSOM, which the CSP allows
    swatch.style.display = "inline-block";
    swatch.style.width = "1.2em";
    swatch.style.height = "1.2em";
    swatch.style.border = "1px solid #8884";
    return swatch;
  }));
}

async function show() {
  const [{ fonts }, { brandKits }] = await Promise.all([
    api("GET", accountPath("/fonts")), api("GET", accountPath("/brand-kits"))]);
  const editor = h("div", { id: "kit-editor" });
  const openEditor = (kit) => {
    editor.replaceChildren(kitForm(fonts, kit, show));
    editor.scrollIntoView();
  };
  const remove = async (kit) => {
    if (!confirm(`Delete the brand kit ${kit.name}? Its logo and font are deleted too.`)) return;
    try {
      await api("DELETE", accountPath(`/brand-kits/${encodeURIComponent(kit.id)}`));
      await show();
    } catch (error) {
      showError(editor.firstChild || editor, error);
    }
  };
  render(
    h("section", h("h2", "Brand kits"), table([
      { label: "Name", cell: (k) => k.name },
      { label: "Colours", cell: swatches },
      { label: "Font", cell: (k) => `${k.font.name} (${k.font.source})` },
      { label: "Logo", cell: (k) => (k.logo ? h("img", { src: k.logo.url, alt: `${k.name} logo`, height: 32 }) : "—") },
      { label: "Updated", cell: (k) => when(k.updatedAt) },
      { label: "Actions", cell: (k) => h("span.row",
        h("button", { type: "button", "aria-label": `Edit ${k.name}`, on: { click: () => openEditor(k) } }, "Edit"),
        h("a", { href: `/console/ad-sets?brand_kit=${encodeURIComponent(k.id)}` }, "Make an ad set"),
        h("button.danger", { type: "button", "aria-label": `Delete ${k.name}`, on: { click: () => remove(k) } }, "Delete")) },
    ], brandKits, "Brand kits")),
    editor);
  editor.replaceChildren(kitForm(fonts, null, show));
}

load(async () => {
  if (noAccount()) return;
  await show();
});
