// The routes of /openapi.json, listed without any outside script (works offline).
"use strict";

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text) node.textContent = text;
  if (className) node.className = className;
  return node;
}

fetch("/openapi.json").then((answer) => answer.json()).then((spec) => {
  const main = document.getElementById("api");
  main.replaceChildren(element("p", spec.info.description || ""));
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const section = element("section");
      section.appendChild(element("h2", `${method.toUpperCase()} ${path}`));
      if (op.summary) section.appendChild(element("p", op.summary));
      const params = op.parameters || [];
      if (params.length) {
        const list = element("ul");
        for (const p of params) {
          const schema = p.schema || {};
          const kinds = (schema.anyOf || [schema]).map((s) => s.enum ? s.enum.join(" | ") : s.type).filter(Boolean);
          list.appendChild(element("li", `${p.name} (${p.in}, ${kinds.join(" or ")}): ${p.description || ""}`));
        }
        section.appendChild(list);
      }
      if (op.requestBody) {
        const types = Object.keys(op.requestBody.content || {}).join(", ");
        section.appendChild(element("p", `Body (${types}): ${op.requestBody.description || ""}`));
      }
      main.appendChild(section);
    }
  }
}).catch((error) => {
  document.getElementById("api").textContent = `Cannot read /openapi.json: ${error.message}`;
});
