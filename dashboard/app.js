// tally dashboard: reads the stats API with a read-scope token kept in
// sessionStorage (this tab, this session), and draws totals, a funnel, the
// device split, revenue, hourly charts (uPlot) and recent journeys, for a
// campaign or one of its messages (A/B variants), with the messages side
// by side. The API speaks UTC; every time shown here is in the browser's
// time zone.
"use strict";

const TOKEN_KEY = "tally.token";
const numberFormat = new Intl.NumberFormat();
const percentFormat = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 });
const charts = [];

function $(id) { return document.getElementById(id); }

function element(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name === "class") node.className = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function setStatus(text) { $("status").textContent = text; }

async function api(path) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const response = await fetch(path, { headers: { Authorization: "Bearer " + token } });
  if (response.status === 401 || response.status === 403) {
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin("The token was not accepted: use an api_token with the read scope.");
    throw new Error("unauthorized");
  }
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || ("HTTP " + response.status));
  return body;
}

function showLogin(message) {
  $("login").hidden = false;
  $("picker").hidden = true;
  $("view").hidden = true;
  $("login-error").textContent = message || "";
  setStatus("");
}

function localTime(unixSeconds) {
  return new Date(unixSeconds * 1000).toLocaleString();
}

function count(totals, name) { return (totals.counters || {})[name] || 0; }

// A rate of the API (a fraction, or null when its denominator is unknown).
function percent(rate) { return rate === null || rate === undefined ? "n/a" : percentFormat.format(rate); }

function card(label, value, field) {
  return element("div", { class: "card", "data-field": field, "data-value": String(value) },
    element("div", { class: "label" }, label),
    element("div", { class: "value" }, typeof value === "number" ? numberFormat.format(value) : value));
}

// Readable names of the counters that have no card of their own, such as
// "opens:privacy_proxy" (opens split by verdict, see docs/redis-schema.md).
const verdictNames = { human: "people", privacy_proxy: "privacy proxy",
                       image_proxy: "image proxy", too_early: "too early" };

function counterLabel(name) {
  const [kind, verdict] = name.split(":");
  const words = (text) => text.replaceAll("_", " ");
  const head = words(kind).replace(/^./, (first) => first.toUpperCase());
  return verdict === undefined ? head : `${head}: ${verdictNames[verdict] || words(verdict)}`;
}

function renderTotals(totals) {
  const box = $("totals");
  box.replaceChildren();
  const fields = [
    ["sent", "Sent"], ["opens", "Opens"], ["unique_opens", "Unique opens"],
    ["clicks", "Clicks"], ["unique_clicks", "Unique clicks"],
    ["conversions", "Orders"], ["cross_device_conversions", "Cross-device orders"],
  ];
  for (const [name, label] of fields) {
    if (name === "sent" && !(name in totals.counters)) continue;
    box.append(card(label, count(totals, name), name));
  }
  for (const [name, value] of Object.entries(totals.counters)) {
    if (!fields.some(([known]) => known === name)) box.append(card(counterLabel(name), value, name));
  }
  for (const [currency, amount] of Object.entries((totals.amounts || {}).revenue || {})) {
    box.append(card("Revenue " + currency, amount + " " + currency, "revenue:" + currency));
  }
  if ("sent" in totals.counters) {
    box.append(card("Opened of sent", percent(totals.rates.open_rate), "open_rate"));
    box.append(card("Clicked of sent", percent(totals.rates.click_rate), "click_rate"));
  }
  box.append(card("Orders per clicking reader", percent(totals.rates.conversion_rate), "conversion_rate"));
}

function bars(target, rows) {
  const box = $(target);
  box.replaceChildren();
  const max = Math.max(1, ...rows.map(([, value]) => value));
  for (const [label, value, field] of rows) {
    const fill = element("div", { class: "fill" });
    fill.style.width = (100 * value / max).toFixed(1) + "%";
    box.append(element("div", { class: "bar", "data-field": field, "data-value": String(value) },
      element("span", {}, label), element("div", {}, fill),
      element("span", { class: "num" }, numberFormat.format(value))));
  }
}

function renderFunnel(totals) {
  const rows = [];
  if ("sent" in totals.counters) rows.push(["Sent", count(totals, "sent"), "funnel-sent"]);
  rows.push(["Opened", count(totals, "unique_opens"), "funnel-opens"]);
  rows.push(["Clicked", count(totals, "unique_clicks"), "funnel-clicks"]);
  rows.push(["Ordered", count(totals, "conversions"), "funnel-orders"]);
  bars("funnel", rows);
}

function renderDevices(totals) {
  const cross = count(totals, "cross_device_conversions");
  const same = count(totals, "conversions") - cross;
  bars("devices", [["Same device", same, "same-device"], ["Cross-device", cross, "cross-device"]]);
}

function renderRevenue(totals) {
  const amounts = totals.amounts || {};
  const box = $("revenue");
  box.replaceChildren();
  const table = element("table", {}, element("tr", {},
    element("th", {}, "Currency"), element("th", { class: "num" }, "Total"),
    element("th", { class: "num" }, "Verified"), element("th", { class: "num" }, "Browser only")));
  for (const [currency, total] of Object.entries(amounts.revenue || {})) {
    const verified = (amounts.verified_revenue || {})[currency];
    const browserOnly = verified === undefined ? undefined
      : (Number(total) - Number(verified)).toFixed(Math.max(0, (total.split(".")[1] || "").length));
    table.append(element("tr", { "data-currency": currency },
      element("td", {}, currency), element("td", { class: "num" }, total),
      element("td", { class: "num" }, verified === undefined ? "not known" : verified),
      element("td", { class: "num" }, browserOnly === undefined ? "not known" : browserOnly)));
  }
  box.append(table);
}

// Draws one uPlot chart. The sum of each series is kept in a data attribute
// (data-opens and so on), which the browser test compares with the API.
function drawChart(target, title, xs, series) {
  const box = $(target);
  box.replaceChildren();
  for (const [label, values] of series) {
    box.dataset[label.toLowerCase()] = String(values.reduce((sum, v) => sum + v, 0));
  }
  const width = Math.max(320, box.clientWidth || 800);
  const options = {
    title, width, height: 220,
    series: [{}, ...series.map(([label, , stroke]) => ({ label, stroke, width: 2 }))],
    axes: [{}, {}],
  };
  charts.push(new uPlot(options, [xs, ...series.map(([, values]) => values)], box));
}

function renderCharts(hourly) {
  while (charts.length > 0) charts.pop().destroy();
  const xs = hourly.hours.map((iso) => Date.parse(iso) / 1000);
  const c = hourly.counters;
  drawChart("chart-events", "", xs, [
    ["Opens", c.opens, "#3d6fd8"], ["Clicks", c.clicks, "#2e9d56"], ["Orders", c.conversions, "#d9822b"],
  ]);
  const revenue = (hourly.amounts || {}).revenue || {};
  const currency = Object.keys(revenue).sort()[0];
  $("revenue-currency").textContent = currency ? "(" + currency + ")" : "(none yet)";
  const values = currency ? revenue[currency].map((v) => (v === null ? 0 : Number(v))) : xs.map(() => 0);
  drawChart("chart-revenue", "", xs, [["Revenue", values, "#8a4fd1"]]);
}

function renderTable(target, header, rows) {
  const table = $(target);
  table.replaceChildren(element("tr", {}, ...header.map(([text, cls]) => element("th", { class: cls || "" }, text))));
  for (const row of rows) table.append(row);
}

// Sent comes from a HyperLogLog in Redis and is absent when the message
// was not minted through tally. Revenue is shown in the campaign's first
// currency.
function renderMessages(messages, currency, selected) {
  renderTable("messages", [["Message"], ["Sent", "num"], ["Opens", "num"], ["Open rate", "num"],
    ["Clicks", "num"], ["Click rate", "num"], ["Orders", "num"], ["Cross-device", "num"],
    ["Orders per clicker", "num"], ["Revenue" + (currency ? " " + currency : ""), "num"]],
    messages.map((m) => element("tr", {
      "data-message": m.message, "data-sent": String(count(m, "sent")),
      "data-orders": String(count(m, "conversions")), class: m.message === selected ? "selected" : "" },
      element("td", {}, m.message),
      element("td", { class: "num" }, "sent" in m.counters ? numberFormat.format(count(m, "sent")) : "not known"),
      element("td", { class: "num" }, numberFormat.format(count(m, "unique_opens"))),
      element("td", { class: "num" }, percent(m.rates.open_rate)),
      element("td", { class: "num" }, numberFormat.format(count(m, "unique_clicks"))),
      element("td", { class: "num" }, percent(m.rates.click_rate)),
      element("td", { class: "num" }, numberFormat.format(count(m, "conversions"))),
      element("td", { class: "num" }, numberFormat.format(count(m, "cross_device_conversions"))),
      element("td", { class: "num" }, percent(m.rates.conversion_rate)),
      element("td", { class: "num" }, currency ? ((m.amounts.revenue || {})[currency] || "0") : "0"))));
}

// Lists the campaign's messages in the picker, keeping the choice when the
// message is still there.
function fillMessagePicker(messages) {
  const select = $("message");
  const chosen = select.value;
  select.replaceChildren(element("option", { value: "" }, "all messages"),
    ...messages.map((m) => element("option", { value: m.message }, m.message)));
  select.value = messages.some((m) => m.message === chosen) ? chosen : "";
}

function renderPaths(stats) {
  renderTable("paths", [["Path"], ["Orders", "num"]],
    Object.entries(stats.conversions_by_path).map(([path, n]) => element("tr", { "data-path": path },
      element("td", {}, path), element("td", { class: "num" }, numberFormat.format(n)))));
  renderTable("ttc", [["Click to order"], ["Orders", "num"]],
    stats.time_to_conversion.map((b) => element("tr", {},
      element("td", {}, b.bucket.replace(/_/g, " ")), element("td", { class: "num" }, numberFormat.format(b.conversions)))));
}

function renderJourneys(conversions) {
  renderTable("journeys", [["Order time"], ["Revenue", "num"], ["Path"], ["Devices"], ["Journey"]],
    conversions.map((c) => {
      const steps = element("td", {});
      for (const t of c.journey) {
        const detail = [t.kind, t.device, t.kind === "open" && t.client !== "unknown" ? t.client : null]
          .filter(Boolean).join(" · ");
        steps.append(element("span", { class: "touch " + t.kind, title: t.campaign + " / " + t.message },
          detail + " " + new Date(t.time * 1000).toLocaleTimeString()));
      }
      steps.append(element("span", { class: "touch order" }, "order · " + c.device));
      return element("tr", { "data-order": c.order, "data-message": c.message },
        element("td", {}, localTime(c.time)),
        element("td", { class: "num" }, c.revenue + " " + c.currency),
        element("td", {}, c.path),
        element("td", {}, c.cross_device ? "cross-device" : "same device"),
        steps);
    }));
}

// Shows the campaign, or with a message picked that message's own figures
// (the same API response, from its own keys) next to the campaign's table
// of messages.
async function showCampaign() {
  const id = $("campaign").value;
  if (!id) return;
  const message = $("message").value;
  const hours = Number($("range").value);
  const to = Math.floor(Date.now() / 1000);
  const from = to - (hours - 1) * 3600;
  const base = "/v1/campaigns/" + encodeURIComponent(id);
  const range = "?from=" + from + "&to=" + to;
  setStatus("Loading " + id + (message ? " / " + message : "") + "…");
  const [stats, recent, one] = await Promise.all([
    api(base + "/stats" + range),
    api(base + "/conversions?limit=" + (message ? 100 : 20)),
    message ? api(base + "/stats" + range + "&message=" + encodeURIComponent(message)) : null,
  ]);
  const shown = one || stats;
  $("title").textContent = "Campaign " + stats.campaign + (one ? " · message " + one.message : "");
  $("view").hidden = false;
  renderTotals(shown.totals);
  renderFunnel(shown.totals);
  renderDevices(shown.totals);
  renderRevenue(shown.totals);
  renderCharts(shown.hourly);
  fillMessagePicker(stats.messages);
  renderMessages(stats.messages, Object.keys((stats.totals.amounts || {}).revenue || {}).sort()[0],
    message);
  renderPaths(shown);
  renderJourneys(recent.conversions.filter((c) => !message || c.message === message).slice(0, 20));
  setStatus("Updated " + new Date().toLocaleTimeString());
  document.body.dataset.loaded = id;
  document.body.dataset.message = message;
}

async function start() {
  $("login").hidden = true;
  $("picker").hidden = false;
  setStatus("Loading campaigns…");
  const list = await api("/v1/campaigns");
  const select = $("campaign");
  select.replaceChildren(...list.campaigns.map((c) => element("option", { value: c.id }, c.id)));
  if (list.campaigns.length === 0) {
    setStatus("No campaigns yet: they appear with their first open or click.");
    return;
  }
  await showCampaign();
}

function report(error) {
  if (error.message !== "unauthorized") setStatus("Error: " + error.message);
}

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
    $("token").value = "";
    start().catch(report);
  });
  $("campaign").addEventListener("change", () => {
    $("message").value = "";
    showCampaign().catch(report);
  });
  $("message").addEventListener("change", () => showCampaign().catch(report));
  $("range").addEventListener("change", () => showCampaign().catch(report));
  $("refresh").addEventListener("click", () => showCampaign().catch(report));
  $("forget").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); showLogin(); });
  if (sessionStorage.getItem(TOKEN_KEY)) start().catch(report);
  else showLogin();
});
