// The console's behaviour: run the editor's SQL through the JSON API and show the rows as a table.
// Every value is placed with textContent, never as HTML. The address holds the SQL and the
// publication (/?sql=…&publication=…): opening it runs the query, so a link gives the same rows.
"use strict";

const $ = (id) => document.getElementById(id);
const publication = () => $("publication").value;

function downloadUrl(format) {
  const params = new URLSearchParams({ sql: $("sql").value, format, publication: publication() });
  return "/api/query?" + params.toString();
}

// The console's own address for the editor's SQL on the chosen publication.
function pageAddress() {
  return "/?" + new URLSearchParams({ sql: $("sql").value, publication: publication() }).toString();
}

function refreshLinks() {
  $("csv").href = downloadUrl("csv");
  $("parquet").href = downloadUrl("parquet");
  if (!$("share").hidden) {
    $("link").value = location.origin + pageAddress();
    $("copied").textContent = "";
  }
}

// Show the link in the page, always, and put it on the clipboard where the browser allows it.
async function copyLink() {
  const link = location.origin + pageAddress();
  $("link").value = link;
  $("share").hidden = false;
  $("copied").textContent = "";
  $("link").select();
  try {
    if (!navigator.clipboard) throw new Error("no clipboard here");
    await navigator.clipboard.writeText(link);
    $("copied").textContent = "copied";
  } catch (error) {
    $("copied").textContent = "copy it from the box";
  }
}

function cell(tag, text) {
  const element = document.createElement(tag);
  element.textContent = text;
  return element;
}

function show(body) {
  const table = document.createElement("table");
  table.className = "rows";
  const head = table.createTHead().insertRow();
  for (const column of body.columns) {
    const th = cell("th", column.name);
    th.title = column.type;
    th.scope = "col";
    head.appendChild(th);
  }
  const rows = table.createTBody();
  for (const row of body.rows) {
    const tr = rows.insertRow();
    for (const value of row) {
      const td = cell("td", value === null ? "NULL" : typeof value === "object" ? JSON.stringify(value) : String(value));
      if (value === null) td.className = "null";
      else if (typeof value === "number") td.className = "number";
      tr.appendChild(td);
    }
  }
  $("result").replaceChildren(table);
  const count = body.rows.length.toLocaleString("en");
  const cut = body.truncated ? " (cut off at the row limit: download CSV or Parquet for every row)" : "";
  $("status").textContent = `${count} row${body.rows.length === 1 ? "" : "s"}${cut} · publication ${body.publication} · ${Math.round(body.elapsed_ms)} ms`;
  $("status").className = body.truncated ? "warning" : "";
}

async function run(event) {
  if (event) event.preventDefault();
  $("run").disabled = true;
  $("status").className = "";
  $("status").textContent = "running…";
  history.replaceState(null, "", pageAddress());
  try {
    const response = await fetch("/api/query", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sql: $("sql").value, publication: publication() }),
    });
    const body = await response.json();
    if (!response.ok) {
      $("result").replaceChildren();
      $("status").className = "error";
      $("status").textContent = `${body.error}: ${body.message}`;
      return;
    }
    show(body);
  } catch (error) {
    $("status").className = "error";
    $("status").textContent = `the service did not answer: ${error}`;
  } finally {
    $("run").disabled = false;
  }
}

function pickTable(details) {
  if (!details.open) return;
  $("sql").value = `select * from ${details.dataset.table} limit 100`;
  refreshLinks();
}

document.addEventListener("DOMContentLoaded", () => {
  $("query").addEventListener("submit", run);
  $("sql").addEventListener("input", refreshLinks);
  $("sql").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) run(event);
  });
  // Another publication is another page (its tables), with the editor's SQL kept.
  $("publication").addEventListener("change", () => {
    location.assign("/?" + new URLSearchParams({ publication: publication(), sql: $("sql").value }).toString());
  });
  $("copy").addEventListener("click", copyLink);
  for (const details of document.querySelectorAll("details.table")) {
    details.addEventListener("toggle", () => pickTable(details));
  }
  for (const button of document.querySelectorAll("button.example")) {
    button.addEventListener("click", () => {
      $("sql").value = button.dataset.sql;
      refreshLinks();
      run();
    });
  }
  refreshLinks();
  // An address with SQL is a shared query: the server put it in the editor; run it, unless the link
  // was followed from another site's page, which must not run queries on the analyst's behalf.
  if (new URLSearchParams(location.search).get("sql")) {
    if (document.body.dataset.autorun === "true") run();
    else $("status").textContent = "a shared query from a link on another site: press Run to run it";
  }
});
