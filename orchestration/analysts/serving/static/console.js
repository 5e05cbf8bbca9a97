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

// A value of the data as the page shows it: NULL for null, JSON for lists and structs.
function valueText(value) {
  return value === null ? "NULL" : typeof value === "object" ? JSON.stringify(value) : String(value);
}

// A table cell holding a value, marked as NULL or as a number for the style sheet.
function valueCell(value) {
  const td = cell("td", valueText(value));
  if (value === null) td.className = "null";
  else if (typeof value === "number") td.className = "number";
  return td;
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
    for (const value of row) tr.appendChild(valueCell(value));
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

// Comparing two publications: GET /api/publications/<old>/diff/<new>, shown as a headline, a line
// per table that changed, and for each a button that shows its examples (changed values by key,
// the keys of rows added and removed).

function plural(count, word) {
  return `${count.toLocaleString("en")} ${word}${count === 1 ? "" : "s"}`;
}

// The summary line as `warehouse publications diff` words it (publishing/diff.py's summary_line).
function diffHeadline(body) {
  if (!body.tables_changed) return "no change";
  return `${plural(body.tables_changed, "table")} changed: ${plural(body.rows, "row")}`;
}

function count(value) {
  return value === null || value === undefined ? "–" : value.toLocaleString("en");
}

// "added: a, b; removed: c; retyped: d (INTEGER → BIGINT)", or "" when the columns are the same.
function columnChanges(table) {
  const parts = [];
  if (table.columns_added.length) parts.push(`added: ${table.columns_added.join(", ")}`);
  if (table.columns_removed.length) parts.push(`removed: ${table.columns_removed.join(", ")}`);
  if (table.columns_retyped.length) {
    parts.push("retyped: " + table.columns_retyped.map((r) => `${r.column} (${r.old} → ${r.new})`).join(", "));
  }
  return parts.join("; ");
}

// A small table of examples: a caption, a header of column names, a row per example.
function exampleTable(caption, kind, names, rows) {
  const table = document.createElement("table");
  table.className = "rows examples";
  table.dataset.kind = kind;
  table.createCaption().append(...caption);
  const head = table.createTHead().insertRow();
  for (const name of names) {
    const th = cell("th", name);
    th.scope = "col";
    head.appendChild(th);
  }
  const body = table.createTBody();
  for (const values of rows) {
    const tr = body.insertRow();
    for (const value of values) tr.appendChild(valueCell(value));
  }
  return table;
}

// What a changed table's button reveals: each changed column with its examples, old → new by key,
// then a few of the rows added and removed (their keys; whole rows for a table without a key).
function tableExamples(table) {
  const parts = [];
  parts.push(cell("p", table.key.length ? `key: ${table.key.join(", ")}` : "no key: whole rows compared"));
  parts[0].className = "note";
  for (const [column, rows] of Object.entries(table.changed_columns)) {
    const examples = table.examples.filter((example) => example.column === column);
    const caption = [cell("code", column), ` changed in ${plural(rows, "row")}, e.g.`];
    const shown = exampleTable(
      caption,
      "changed",
      [...table.key, "old", "new"],
      examples.map((example) => [...table.key.map((k) => example.key[k]), example.old, example.new]),
    );
    shown.dataset.column = column;
    parts.push(shown);
  }
  for (const [kind, total, examples] of [
    ["added", table.added, table.added_examples],
    ["removed", table.removed, table.removed_examples],
  ]) {
    if (!examples.length) continue;
    const names = Object.keys(examples[0]);
    const caption = [`${plural(total, "row")} ${kind}, e.g.`];
    parts.push(exampleTable(caption, kind, names, examples.map((example) => names.map((name) => example[name]))));
  }
  return parts;
}

function showDiff(body) {
  const headers = ["table", "status", "rows", "added", "removed", "changed", "columns", "examples"];
  const table = document.createElement("table");
  table.className = "rows diff";
  const head = table.createTHead().insertRow();
  for (const name of headers) {
    const th = cell("th", name);
    th.scope = "col";
    head.appendChild(th);
  }
  const lines = table.createTBody();
  const changed = body.tables.filter((t) => t.status !== "unchanged");
  changed.forEach((t, index) => {
    const tr = lines.insertRow();
    tr.dataset.table = t.table;
    const name = cell("th", t.table);
    name.scope = "row";
    tr.appendChild(name);
    tr.appendChild(cell("td", t.status));
    tr.appendChild(cell("td", `${count(t.rows_old)} → ${count(t.rows_new)}`));
    for (const n of [t.added, t.removed, t.changed]) {
      const td = cell("td", count(n));
      td.className = "number";
      tr.appendChild(td);
    }
    tr.appendChild(cell("td", columnChanges(t)));
    const action = tr.insertCell();
    if (t.status !== "changed") return; // a table added or removed whole: nothing to show by key
    // The examples on a line of their own below, the table's width, shown and hidden by the button.
    const more = lines.insertRow();
    more.className = "examples";
    more.id = `diff-examples-${index}`;
    more.hidden = true;
    const content = more.insertCell();
    content.colSpan = headers.length;
    content.append(...tableExamples(t));
    const button = cell("button", "Show examples");
    button.type = "button";
    button.className = "examples";
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", more.id);
    button.setAttribute("aria-label", `Show examples of ${t.table}`);
    button.addEventListener("click", () => {
      more.hidden = !more.hidden;
      button.setAttribute("aria-expanded", String(!more.hidden));
      button.textContent = more.hidden ? "Show examples" : "Hide examples";
      button.setAttribute("aria-label", `${more.hidden ? "Show" : "Hide"} examples of ${t.table}`);
    });
    action.appendChild(button);
  });
  const shown = [];
  if (changed.length) shown.push(table);
  const unchanged = body.tables.length - changed.length;
  if (unchanged) {
    const note = cell("p", `${plural(unchanged, "table")} unchanged`);
    note.className = "note unchanged";
    shown.push(note);
  }
  $("diff").replaceChildren(...shown);
  $("diff-status").className = "headline";
  $("diff-status").textContent = `${body.old} → ${body.new}: ${diffHeadline(body)}`;
}

async function compare(event) {
  if (event) event.preventDefault();
  const [older, newer] = [$("diff-old").value, $("diff-new").value];
  $("diff-run").disabled = true;
  $("diff-status").className = "";
  $("diff-status").textContent = "comparing…";
  try {
    const path = `/api/publications/${encodeURIComponent(older)}/diff/${encodeURIComponent(newer)}`;
    const response = await fetch(path, { headers: { Accept: "application/json" } });
    let body;
    try {
      body = await response.json();
    } catch (error) {
      body = { error: `HTTP ${response.status}`, message: response.statusText || "the answer is not JSON" };
    }
    if (!response.ok) {
      $("diff").replaceChildren();
      $("diff-status").className = "error";
      $("diff-status").textContent = `${body.error}: ${body.message}`;
      return;
    }
    showDiff(body);
  } catch (error) {
    $("diff").replaceChildren();
    $("diff-status").className = "error";
    $("diff-status").textContent = `the service did not answer: ${error}`;
  } finally {
    $("diff-run").disabled = false;
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
  $("diff-form").addEventListener("submit", compare);
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
