// Ready-to-run calls of every dialect, with this server's address and a key filled in.

const pyString = (text) => JSON.stringify(text);

function requestsSnippet(url, headers, body) {
  const lines = ["import requests", "", `response = requests.post(`, `    ${pyString(url)},`,
    `    headers=${JSON.stringify(headers)},`, `    json=${JSON.stringify(body)},`, "    timeout=120,", ")",
    "response.raise_for_status()", "print(response.json())"];
  return lines.join("\n").replace(/\btrue\b/g, "True").replace(/\bfalse\b/g, "False");
}

function curlSnippet(url, headers, body) {
  const parts = [`curl -s ${url}`];
  for (const [name, value] of Object.entries(headers)) parts.push(`  -H '${name}: ${value}'`);
  parts.push("  -H 'Content-Type: application/json'", `  -d '${JSON.stringify(body)}'`);
  return parts.join(" \\\n");
}

/** [{dialect, calls: [{language, code}]}] for a key (its secret and its id). */
export function snippets(base, secret, keyId) {
  const bearer = { Authorization: `Bearer ${secret}` };
  const creatify = { "X-API-ID": keyId, "X-API-KEY": secret };
  const dialects = [
    { dialect: "Creatix v1 (OpenAI-compatible images)", url: `${base}/v1/images/generations`, headers: bearer,
      body: { model: "creatix-flash", prompt: "A cat astronaut floating in space", size: "1024x1024" },
      openai: [
        "from openai import OpenAI", "",
        `client = OpenAI(base_url=${pyString(`${base}/v1`)}, api_key=${pyString(secret)})`,
        'image = client.images.generate(model="creatix-flash", prompt="A cat astronaut floating in space",',
        '                               size="1024x1024", response_format="url")',
        "print(image.data[0].url)"].join("\n") },
    { dialect: "Artnex generate", url: `${base}/v1/generate`, headers: bearer,
      body: { prompt: "A serene mountain landscape at sunset", model: "flux-2-pro" } },
    { dialect: "Platform API", url: `${base}/api/platform/generate`, headers: bearer,
      body: { prompt: "A red sneaker on a white table", modelId: "creatix-flash" } },
    { dialect: "Asset generator", url: `${base}/api/asset_generator/`, headers: creatify,
      body: { model_name: "z-image-turbo", input_params: { prompt: "A bottle of cold brew on ice" } } },
    { dialect: "Text generator", url: `${base}/api/text_generator/`, headers: creatify,
      body: { model_name: "gemini-2.5-flash", messages: [{ role: "user", content: "Three headlines for a cold brew subscription" }] } },
  ];
  return dialects.map((d) => ({
    dialect: d.dialect,
    calls: [
      { language: "curl", code: curlSnippet(d.url, d.headers, d.body) },
      ...(d.openai ? [{ language: "Python (openai)", code: d.openai }] : []),
      { language: "Python (requests)", code: requestsSnippet(d.url, d.headers, d.body) },
    ],
  }));
}
