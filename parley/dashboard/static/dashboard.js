// Progressive enhancement only: every page works without this file.
"use strict";
(function () {
  const csrf = document.body.dataset.csrf || "";
  window.parley = {
    csrf,
    post(url, body) {
      return fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/x-www-form-urlencoded", "x-csrf-token": csrf },
        body: new URLSearchParams(body || {}),
      });
    },
  };
  // The organisation switcher navigates as soon as a choice is made (the button stays for keyboards).
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.submit());
  }
  // Copy buttons: <button data-copy="#element-id">.
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const source = document.querySelector(button.dataset.copy);
      const text = source.value !== undefined ? source.value : source.textContent;
      try {
        await navigator.clipboard.writeText(text);
      } catch (_) {
        source.select && source.select();
        document.execCommand && document.execCommand("copy");
      }
      const label = button.textContent;
      button.textContent = "Copied";
      setTimeout(() => { button.textContent = label; }, 2000);
    });
  }
  // Destructive forms ask first: <form data-confirm="…">.
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
  // Ingestion status: while documents are being read, poll and update their rows in place.
  const polled = document.querySelector("table[data-poll]");
  if (polled) {
    const status = document.getElementById("poll-status");
    const tick = async () => {
      let state;
      try {
        state = await (await fetch(polled.dataset.poll, { credentials: "same-origin" })).json();
      } catch (_) {
        return setTimeout(tick, 3000);
      }
      for (const doc of state.documents) {
        const row = polled.querySelector(`tr[data-document="${doc.id}"]`);
        if (!row) continue;
        const badge = row.querySelector("[data-status]");
        badge.textContent = doc.status;
        badge.className = "badge " + ({ ready: "ok", failed: "bad" }[doc.status] || "warn");
        const error = row.querySelector("[data-error]");
        error.textContent = doc.error || "";
        error.hidden = !doc.error;
        row.querySelector("[data-chunks]").textContent = doc.chunk_count;
      }
      if (state.active) setTimeout(tick, 1000);
      else if (status) status.textContent = "All documents are read.";
    };
    setTimeout(tick, 500);
  }
  // Live inbox and transcript: one Server-Sent Events stream of the organisation's conversation events.
  const inbox = document.querySelector("table[data-events]");
  const thread = document.querySelector("#conversation[data-events]");
  const source = inbox || thread;
  if (source && window.EventSource) {
    const events = new EventSource(source.dataset.events);
    let pending = null;
    const refreshInbox = async () => {
      const html = await (await fetch(inbox.dataset.rows, { credentials: "same-origin" })).text();
      document.getElementById("inbox-rows").innerHTML = html;
    };
    const refreshThread = async () => {
      const items = document.querySelectorAll("#transcript [data-message]");
      const last = items.length ? items[items.length - 1].dataset.message : "";
      const url = thread.dataset.since + "?message=" + encodeURIComponent(last);
      const state = await (await fetch(url, { credentials: "same-origin" })).json();
      const list = document.getElementById("transcript");
      for (const message of state.messages) {
        if (list.querySelector(`[data-message="${message.id}"]`)) continue;
        list.insertAdjacentHTML("beforeend", message.html);
      }
      document.getElementById("conversation-state").innerHTML = state.state;
    };
    events.addEventListener("conversation", (event) => {
      const data = JSON.parse(event.data);
      // A resync (the live broker came back; events may have been lost) refreshes whatever page is open.
      if (thread && data.type !== "resync" && data.conversation_id !== thread.dataset.conversation) return;
      // Several events in a burst become one refresh.
      if (pending) return;
      pending = setTimeout(async () => {
        pending = null;
        try { await (inbox ? refreshInbox() : refreshThread()); } catch (_) { /* the next event retries */ }
      }, 100);
    });
    events.addEventListener("open", () => { document.body.dataset.live = "on"; });
  }
  // Move focus to the first invalid field so keyboard and screen-reader users land on the problem.
  const invalid = document.querySelector("[aria-invalid='true']");
  if (invalid) invalid.focus();
})();
