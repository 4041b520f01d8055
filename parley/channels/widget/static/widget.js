/* Parley web chat widget. Embedded with
 *   <script src="https://<parley>/widget.js" data-agent="agt_…" async></script>
 * Options: data-position="right|left", data-color="#0b5cad", data-open="true", data-lang="en|fr|ar".
 *
 * Everything lives in one closed-over scope and a Shadow DOM, so the host page's globals and styles are left
 * alone. No cookies: the visitor's id and secret are kept in localStorage. Message text is only ever put into
 * the page with textContent; links are built as elements and only for http(s) URLs.
 */
(() => {
  "use strict";
  const script = document.currentScript;
  const agent = script && script.dataset.agent;
  if (!agent || !/^agt_[a-z0-9]{10,40}$/.test(agent)) return;
  const base = new URL(script.src).origin;
  const api = `${base}/widget/v1/agents/${agent}`;
  const opt = script.dataset;
  const color = /^#[0-9a-fA-F]{6}$/.test(opt.color || "") ? opt.color : "#0b5cad";
  const left = opt.position === "left";

  const T = {
    en: {
      open: "Open chat", close: "Close chat", title: "Chat", send: "Send", input: "Your message",
      placeholder: "Type your message…", typing: "The assistant is typing…", person: "A person is replying…",
      staffJoined: "A member of the team has joined the conversation.", sources: "Sources", privacy: "Privacy",
      back: "Back to chat", runBy: "This chat is run by {org}.", notice: "Read our privacy notice",
      download: "Download this conversation", del: "Delete this conversation", confirmDel: "Yes, delete it for good",
      deleted: "The conversation was deleted.", ageQ: "Are you {age} or older?", yes: "Yes", no: "No",
      ageNo: "Sorry, this chat is only for people aged {age} or over.",
      consentQ: "May we use anonymous analytics to improve this chat? The chat works the same either way.",
      accept: "Accept", decline: "Decline", withdraw: "Withdraw analytics consent", withdrawn: "Analytics consent withdrawn.", error: "Something went wrong. Please try again.",
      offline: "Cannot reach the chat right now. Please try again.", you: "You", bot: "Assistant", staff: "Team",
      rights: "Your rights", rAccess: "Get a copy of all my data", rErase: "Erase everything about me",
      rEraseOk: "Yes, erase everything about me", rObject: "Stop the AI answering me", rMarketing: "Stop marketing",
      filed: "Request {ref} is filed. We will answer by {date}.", tooMany: "Too many requests. Please try again later.",
      accessHow: "When your copy is ready, a download button appears here (and a link by e-mail, if we have your address).",
      rGet: "Download my copy", notReady: "Your copy is not ready yet (or it has expired).",
    },
    fr: {
      open: "Ouvrir la discussion", close: "Fermer la discussion", title: "Discussion", send: "Envoyer",
      input: "Votre message", placeholder: "Écrivez votre message…", typing: "L'assistant écrit…",
      person: "Une personne vous répond…", staffJoined: "Un membre de l'équipe a rejoint la conversation.",
      sources: "Sources", privacy: "Confidentialité", back: "Retour à la discussion",
      runBy: "Cette discussion est gérée par {org}.", notice: "Lire notre politique de confidentialité",
      download: "Télécharger cette conversation", del: "Supprimer cette conversation",
      confirmDel: "Oui, la supprimer définitivement", deleted: "La conversation a été supprimée.",
      ageQ: "Avez-vous {age} ans ou plus ?", yes: "Oui", no: "Non",
      ageNo: "Désolé, cette discussion est réservée aux personnes de {age} ans ou plus.",
      consentQ: "Pouvons-nous utiliser des statistiques anonymes pour améliorer cette discussion ? Elle fonctionne de la même façon dans les deux cas.",
      accept: "Accepter", decline: "Refuser", withdraw: "Retirer mon consentement aux statistiques", withdrawn: "Consentement aux statistiques retiré.", error: "Une erreur s'est produite. Veuillez réessayer.",
      offline: "La discussion est injoignable pour le moment. Veuillez réessayer.", you: "Vous",
      bot: "Assistant", staff: "Équipe",
      rights: "Vos droits", rAccess: "Obtenir une copie de toutes mes données", rErase: "Effacer tout ce qui me concerne",
      rEraseOk: "Oui, effacer tout ce qui me concerne", rObject: "Ne plus recevoir de réponses de l'IA",
      rMarketing: "Arrêter le marketing", filed: "La demande {ref} est enregistrée. Nous répondrons au plus tard le {date}.",
      tooMany: "Trop de demandes. Veuillez réessayer plus tard.",
      accessHow: "Quand votre copie sera prête, un bouton de téléchargement apparaîtra ici (et un lien par e-mail, si nous avons votre adresse).",
      rGet: "Télécharger ma copie", notReady: "Votre copie n'est pas encore prête (ou elle a expiré).",
    },
    ar: {
      open: "افتح المحادثة", close: "أغلق المحادثة", title: "محادثة", send: "إرسال", input: "رسالتك",
      placeholder: "اكتب رسالتك…", typing: "المساعد يكتب…", person: "شخص من الفريق يرد عليك…",
      staffJoined: "انضم أحد أعضاء الفريق إلى المحادثة.", sources: "المصادر", privacy: "الخصوصية",
      back: "العودة إلى المحادثة", runBy: "تدير هذه المحادثة {org}.", notice: "اقرأ إشعار الخصوصية",
      download: "تنزيل هذه المحادثة", del: "حذف هذه المحادثة", confirmDel: "نعم، احذفها نهائيًا",
      deleted: "تم حذف المحادثة.", ageQ: "هل عمرك {age} سنة أو أكثر؟", yes: "نعم", no: "لا",
      ageNo: "عذرًا، هذه المحادثة مخصصة لمن تبلغ أعمارهم {age} سنة أو أكثر.",
      consentQ: "هل تسمح باستخدام إحصاءات مجهولة الهوية لتحسين هذه المحادثة؟ تعمل المحادثة بالطريقة نفسها في الحالتين.",
      accept: "موافق", decline: "رفض", withdraw: "سحب الموافقة على الإحصاءات", withdrawn: "تم سحب الموافقة على الإحصاءات.", error: "حدث خطأ ما. يرجى المحاولة مرة أخرى.",
      offline: "تعذر الوصول إلى المحادثة الآن. يرجى المحاولة مرة أخرى.", you: "أنت", bot: "المساعد",
      staff: "الفريق",
      rights: "حقوقك", rAccess: "الحصول على نسخة من كل بياناتي", rErase: "محو كل ما يخصني",
      rEraseOk: "نعم، امحُ كل ما يخصني", rObject: "أوقف ردود الذكاء الاصطناعي علي", rMarketing: "أوقف التسويق",
      filed: "تم تسجيل الطلب {ref}. سنرد عليك في موعد أقصاه {date}.", tooMany: "طلبات كثيرة جدًا. يرجى المحاولة لاحقًا.",
      accessHow: "عندما تجهز نسختك سيظهر زر التنزيل هنا (ورابط بالبريد الإلكتروني إن كان لدينا عنوانك).",
      rGet: "تنزيل نسختي", notReady: "نسختك ليست جاهزة بعد (أو انتهت صلاحيتها).",
    },
  };
  const pick = (l) => (l && T[l.slice(0, 2).toLowerCase()] ? l.slice(0, 2).toLowerCase() : null);
  const lang = pick(opt.lang) || pick(navigator.language) || "en";
  const t = (key, vars) => T[lang][key].replace(/\{(\w+)\}/g, (_, k) => String((vars || {})[k] ?? ""));

  // --- storage: localStorage only (never cookies); a browser that refuses storage still chats, without memory
  const KEY = `parley:${agent}`;
  const load = () => {
    try { return JSON.parse(localStorage.getItem(KEY) || "{}") || {}; } catch { return {}; }
  };
  let saved = load();
  const save = (patch) => {
    saved = { ...load(), ...patch };
    try { localStorage.setItem(KEY, JSON.stringify(saved)); } catch { /* private mode: memory only */ }
  };

  // --- DOM helpers ------------------------------------------------------------------------------------------
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v !== false && v != null) node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children) if (child) node.append(child);
    return node;
  };
  const safeUrl = (href) => {
    try {
      const url = new URL(href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch { return null; }
  };
  const link = (href, label) => {
    const url = safeUrl(href);
    if (!url) return document.createTextNode(label);
    return el("a", { href: url, target: "_blank", rel: "noopener noreferrer nofollow", text: label });
  };

  // Inline formatting: [label](url) and bare http(s) URLs become links; everything else stays text.
  const inline = (text) => {
    const out = document.createDocumentFragment();
    const re = /\[([^\]\n]{1,200})\]\((https?:\/\/[^\s)]+)\)|(https?:\/\/[^\s<>"')\]]+)/g;
    let last = 0;
    for (const m of text.matchAll(re)) {
      out.append(text.slice(last, m.index));
      out.append(m[2] ? link(m[2], m[1]) : link(m[3], m[3]));
      last = m.index + m[0].length;
    }
    out.append(text.slice(last));
    return out;
  };
  // Blocks: paragraphs, and lists of lines starting with "- ", "* " or "1. ".
  const formatted = (text) => {
    const out = document.createDocumentFragment();
    let list = null;
    for (const line of text.split("\n")) {
      const item = /^\s*(?:[-*•]|(\d+)[.)])\s+(.*)$/.exec(line);
      if (item) {
        const kind = item[1] ? "ol" : "ul";
        if (!list || list.tagName.toLowerCase() !== kind) out.append((list = el(kind)));
        list.append(el("li", null, inline(item[2])));
      } else {
        list = null;
        if (line.trim()) out.append(el("p", null, inline(line)));
      }
    }
    return out;
  };

  // --- styles, inside the shadow root ------------------------------------------------------------------------
  const css = `
:host{all:initial}
*{box-sizing:border-box;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans Arabic",sans-serif}
.root{position:fixed;bottom:16px;${left ? "left" : "right"}:16px;z-index:2147483000;font-size:15px;line-height:1.45;color:#1a1a1a}
button{font:inherit;cursor:pointer;border-radius:8px;border:1px solid transparent;padding:8px 12px}
button:focus-visible,a:focus-visible,textarea:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}
.launch{width:56px;height:56px;border-radius:50%;background:var(--c);color:#fff;box-shadow:0 2px 10px rgba(0,0,0,.3);display:grid;place-items:center;padding:0}
.launch svg{width:28px;height:28px;fill:currentColor}
.panel{position:fixed;bottom:84px;${left ? "left" : "right"}:16px;width:min(380px,calc(100vw - 32px));height:min(600px,calc(100vh - 100px));background:#fff;border-radius:12px;box-shadow:0 4px 24px rgba(0,0,0,.25);display:flex;flex-direction:column;overflow:hidden}
.panel[hidden],[hidden]{display:none!important}
header{background:var(--c);color:#fff;padding:10px 12px;display:flex;align-items:center;gap:8px}
header h2{font-size:16px;margin:0;flex:1;min-width:0;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
header button{background:transparent;color:#fff;border-color:rgba(255,255,255,.6);padding:4px 8px}
.log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px}
.msg{max-width:85%;padding:8px 12px;border-radius:12px;overflow-wrap:anywhere;white-space:normal}
.msg p{margin:0 0 6px}.msg p:last-child{margin:0}.msg ul,.msg ol{margin:4px 0;padding-inline-start:20px}
.user{align-self:flex-end;background:var(--c);color:#fff}.user a{color:#fff}
.assistant,.staff{align-self:flex-start;background:#f0f2f5}.staff{border-inline-start:4px solid var(--c)}
.assistant a,.staff a,.view a{color:#0b4a8b}
.who{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
.cite{font-size:13px;color:#444;margin-top:6px}.cite ul{margin:2px 0;padding-inline-start:18px}
.note{align-self:center;font-size:13px;color:#444;text-align:center}
.typing{padding:0 12px 6px;font-size:13px;color:#444;min-height:20px}
form{display:flex;gap:8px;padding:10px;border-top:1px solid #ddd}
textarea{flex:1;min-width:0;resize:none;font:inherit;padding:8px;border:1px solid #767676;border-radius:8px;height:42px}
.primary{background:var(--c);color:#fff}
.secondary{background:#fff;color:#1a1a1a;border-color:#767676}
.view{padding:16px;display:flex;flex-direction:column;gap:12px;overflow-y:auto;flex:1}
.banner{padding:10px 12px;background:#fff8e1;border-top:1px solid #e0c060;font-size:14px;display:flex;flex-wrap:wrap;gap:8px;align-items:center}
.banner p{margin:0;flex-basis:100%}
.err{color:#a00;font-size:13px;padding:0 12px}
`;

  // --- the widget ---------------------------------------------------------------------------------------------
  const host = el("div", { "data-parley-widget": "" });
  const shadow = host.attachShadow({ mode: "open" });
  shadow.append(el("style", { text: css }));
  const root = el("div", { class: "root", dir: lang === "ar" ? "rtl" : "ltr", lang, style: `--c:${color}` });
  shadow.append(root);

  const icon = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  icon.setAttribute("viewBox", "0 0 24 24");
  icon.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", "M4 4h16v12H7l-3 3z");
  icon.append(path);

  const launcher = el("button", { class: "launch", type: "button", "aria-label": t("open"), "aria-expanded": "false" }, icon);
  const title = el("h2", { id: "parley-title", text: t("title") });
  const privacyBtn = el("button", { type: "button", text: t("privacy") });
  const closeBtn = el("button", { type: "button", "aria-label": t("close"), text: "✕" });
  const log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions", tabindex: "0", "aria-label": t("title") });
  const typing = el("div", { class: "typing", role: "status", "aria-live": "polite" });
  const errorLine = el("div", { class: "err", role: "alert" });
  const input = el("textarea", { "aria-label": t("input"), placeholder: t("placeholder"), rows: "1", maxlength: "2000" });
  const sendBtn = el("button", { class: "primary", type: "submit", text: t("send") });
  const form = el("form", null, input, sendBtn);
  const banner = el("div", { class: "banner", hidden: true });
  const chat = el("div", { style: "display:contents" }, log, typing, errorLine, banner, form);
  const view = el("div", { class: "view", hidden: true });
  const panel = el("div", { class: "panel", role: "dialog", "aria-labelledby": "parley-title", hidden: true },
    el("header", null, title, privacyBtn, closeBtn), chat, view);
  root.append(panel, launcher);

  let config = null;
  let socket = null;
  let socketReady = null;
  let bubble = null;
  let busy = false;

  const request = async (method, path, body, withVisitor = true) => {
    const headers = {};
    if (body) headers["content-type"] = "application/json";
    if (withVisitor && saved.visitor) headers["x-parley-visitor"] = saved.visitor;
    const response = await fetch(api + path, {
      method, headers, body: body ? JSON.stringify(body) : undefined, credentials: "omit", mode: "cors", cache: "no-store",
    });
    if (!response.ok) {
      let detail = t("error");
      try { detail = (await response.json()).detail || detail; } catch { /* not JSON */ }
      throw Object.assign(new Error(detail), { status: response.status });
    }
    return response;
  };
  const ensureVisitor = async () => {
    if (!saved.visitor) {
      const v = await (await request("POST", "/visitors", null, false)).json();
      save({ visitor: `${v.visitor_id}:${v.visitor_secret}` });
    }
  };

  const scrollDown = () => { log.scrollTop = log.scrollHeight; };
  const note = (text) => { log.append(el("p", { class: "note", text })); scrollDown(); };
  const addMessage = (role, text, citations) => {
    const who = { user: t("you"), assistant: t("bot"), staff: t("staff") }[role];
    const node = el("div", { class: `msg ${role}` }, el("span", { class: "who", text: `${who}: ` }), formatted(text));
    if (citations && citations.length) {
      const list = el("ul");
      for (const c of citations) list.append(el("li", null, c.url ? link(c.url, c.title) : document.createTextNode(c.title)));
      node.append(el("div", { class: "cite" }, el("span", { text: `${t("sources")}:` }), list));
    }
    log.append(node);
    scrollDown();
    return node;
  };

  const onEvent = (event) => {
    if (event.type === "typing") typing.textContent = t("typing");
    else if (event.type === "staff_typing") typing.textContent = t("person");
    else if (event.type === "delta") {
      if (!bubble) { bubble = el("div", { class: "msg assistant", "aria-hidden": "true" }); log.append(bubble); }
      bubble.textContent += event.text;
      scrollDown();
    } else if (event.type === "message") {
      if (bubble) { bubble.remove(); bubble = null; }
      typing.textContent = "";
      busy = false; // the reply is settled; the next message may go (its "done" follows at once)
      addMessage(event.message.role, event.message.text, event.message.citations);
    } else if (event.type === "done") {
      if (bubble) { bubble.removeAttribute("aria-hidden"); bubble = null; }
      typing.textContent = event.handed_off ? t("person") : "";
      busy = false;
    } else if (event.type === "handed_off") {
      typing.textContent = t("person");
      note(t("staffJoined"));
    } else if (event.type === "released") {
      typing.textContent = "";
    } else if (event.type === "resync") {
      // Live events may have been lost between servers (the broker restarted): reload the conversation.
      if (!busy) loadHistory();
    } else if (event.type === "error") {
      typing.textContent = "";
      errorLine.textContent = event.detail || t("error");
      busy = false;
    }
  };

  // WebSocket first; if it cannot open (blocked by a proxy or firewall), messages go over HTTP with a streamed
  // response instead, and the rest works the same.
  const connect = () => {
    if (socketReady) return socketReady;
    socketReady = new Promise((resolve) => {
      let ws;
      try { ws = new WebSocket(`${api.replace(/^http/, "ws")}/ws`); } catch { resolve(null); return; }
      const timer = setTimeout(() => { ws.close(); resolve(null); }, 5000);
      ws.onopen = () => ws.send(JSON.stringify({ type: "hello", visitor: saved.visitor, age_confirmed: saved.age === "ok" }));
      ws.onmessage = (m) => {
        let event;
        try { event = JSON.parse(m.data); } catch { return; }
        if (event.type === "ready") { clearTimeout(timer); socket = ws; resolve(ws); } else onEvent(event);
      };
      ws.onerror = () => { clearTimeout(timer); resolve(null); };
      ws.onclose = () => {
        clearTimeout(timer);
        socket = null;
        socketReady = null;
        busy = false;
        resolve(null);
      };
    });
    return socketReady;
  };

  const sendOverHttp = async (text, clientId) => {
    const response = await request("POST", "/messages", { text, client_id: clientId, age_confirmed: saved.age === "ok" });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const chunk = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (chunk.startsWith("data: ")) onEvent(JSON.parse(chunk.slice(6)));
      }
    }
  };

  const send = async (text) => {
    errorLine.textContent = "";
    busy = true;
    addMessage("user", text);
    const clientId = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
    try {
      await ensureVisitor();
      const ws = await connect();
      if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "message", text, client_id: clientId }));
      else {
        await sendOverHttp(text, clientId);
        busy = false;
      }
    } catch (e) {
      onEvent({ type: "error", detail: e.status ? e.message : t("offline") });
    }
  };

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text || busy) return;
    input.value = "";
    send(text);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
  });

  const showView = (...children) => {
    view.replaceChildren(...children, el("button", { class: "secondary", type: "button", text: t("back"), onclick: showChat }));
    chat.hidden = true;
    view.hidden = false;
    (view.querySelector("button, a") || view).focus();
  };
  const showChat = () => {
    view.hidden = true;
    chat.hidden = false;
    input.focus();
  };

  const ageGate = () => {
    const age = config.min_age;
    const blocked = () => {
      view.replaceChildren(el("p", { text: t("ageNo", { age }) }));
      chat.hidden = true;
      view.hidden = false;
    };
    if (saved.age === "under") return blocked();
    chat.hidden = true;
    view.hidden = false;
    const yes = el("button", { class: "primary", type: "button", text: t("yes"), onclick: () => { save({ age: "ok" }); showChat(); } });
    const no = el("button", { class: "secondary", type: "button", text: t("no"), onclick: () => { save({ age: "under" }); blocked(); } });
    view.replaceChildren(el("p", { text: t("ageQ", { age }) }), yes, no);
    yes.focus();
  };

  const consentBanner = () => {
    const choose = async (granted) => {
      banner.hidden = true;
      save({ consent: granted ? "granted" : "declined" });
      try {
        await ensureVisitor();
        // The server records which text was shown: the one /config sent (the consent ledger cites it).
        const shown = config.analytics_consent_text;
        await request("POST", "/consent", { purpose: "analytics", granted, text_id: granted && shown ? shown.id : null });
      } catch { /* the choice is kept locally and sent again next time */ save({ consent: null }); }
      input.focus();
    };
    banner.replaceChildren(
      el("p", { text: config.analytics_consent_text ? config.analytics_consent_text.body : t("consentQ") }),
      el("button", { class: "primary", type: "button", text: t("accept"), onclick: () => choose(true) }),
      el("button", { class: "secondary", type: "button", text: t("decline"), onclick: () => choose(false) }),
    );
    banner.hidden = false;
  };

  const saveAs = (data, name) => {
    const a = el("a", { href: URL.createObjectURL(data), download: name });
    shadow.append(a);
    a.click();
    a.remove();
  };
  const privacyView = () => {
    const items = [el("h3", { text: t("privacy") }), el("p", { text: t("runBy", { org: config.organization_name }) })];
    if (config.privacy_notice_url && safeUrl(config.privacy_notice_url)) items.push(el("p", null, link(config.privacy_notice_url, t("notice"))));
    const status = el("p", { role: "status" });
    const download = el("button", { class: "secondary", type: "button", text: t("download"), onclick: async () => {
      try {
        saveAs(saved.visitor ? await (await request("GET", "/conversation/export")).blob() : new Blob(["{}"], { type: "application/json" }), "conversation.json");
      } catch (e) { status.textContent = e.message; }
    } });
    const del = el("button", { class: "secondary", type: "button", text: t("del") });
    del.addEventListener("click", async () => {
      if (del.dataset.armed !== "1") { del.dataset.armed = "1"; del.textContent = t("confirmDel"); return; }
      try {
        if (saved.visitor) await request("DELETE", "/conversation");
        if (socket) socket.close();
        log.replaceChildren();
        status.textContent = t("deleted");
        del.disabled = true;
      } catch (e) { status.textContent = e.message; }
    });
    const extra = [];
    if (saved.consent === "granted" && saved.visitor) {  // withdrawing is as easy as granting: one click
      extra.push(el("button", { class: "secondary", type: "button", text: t("withdraw"), onclick: async (ev) => {
        try {
          await request("DELETE", "/consent/analytics");
          save({ consent: "declined" });
          ev.target.disabled = true;
          status.textContent = t("withdrawn");
        } catch (e) { status.textContent = e.message; }
      } }));
    }
    showView(...items, download, del, ...extra, ...rights(status), status);
  };

  // "Your rights": each button files a request (proven by the visitor secret) that staff carry out in due time.
  const rights = (out) => {
    const file = async (button, kind, purposes) => {
      try {
        await ensureVisitor();
        const r = await (await request("POST", "/privacy/requests", { kind, purposes })).json();
        const date = new Date(r.due_at).toLocaleDateString(lang, { dateStyle: "long" });
        out.textContent = t("filed", { ref: r.request_id, date }) + (kind === "access" ? ` ${t("accessHow")}` : "");
        button.disabled = true;
        if (kind === "access") save({ access: r.request_id });
      } catch (e) { out.textContent = e.status === 429 ? t("tooMany") : e.status ? e.message : t("offline"); }
    };
    const btn = (key, kind, purposes, confirmKey) => {
      const b = el("button", { class: "secondary", type: "button", text: t(key) });
      b.addEventListener("click", () => {
        if (confirmKey && b.dataset.armed !== "1") { b.dataset.armed = "1"; b.textContent = t(confirmKey); return; }
        file(b, kind, purposes);
      });
      return b;
    };
    // The copy comes back here, with the visitor secret: an anonymous visitor has no e-mail address for a link.
    const get = saved.access && el("button", { class: "secondary", type: "button", text: t("rGet"), onclick: async () => {
      try {
        saveAs(await (await request("GET", `/privacy/requests/${encodeURIComponent(saved.access)}/download`)).blob(), "your-data.zip");
      } catch (e) { out.textContent = e.status === 404 ? t("notReady") : e.status ? e.message : t("offline"); }
    } });
    return [el("h3", { text: t("rights") }), btn("rAccess", "access", []), get, btn("rErase", "erasure", [], "rEraseOk"),
      btn("rObject", "objection", ["ai_processing"]), btn("rMarketing", "consent_withdrawal", ["marketing"])].filter(Boolean);
  };

  const loadHistory = async () => {
    if (!saved.visitor) return;
    try {
      const history = await (await request("GET", "/conversation")).json();
      log.replaceChildren();
      if (config.greeting) addMessage("assistant", config.greeting);
      for (const m of history.messages) addMessage(m.role, m.text, m.citations);
      if (history.handed_off) typing.textContent = t("person");
      if (history.conversation_id) connect();
    } catch (e) {
      if (e.status === 404) save({ visitor: null });
    }
  };

  let started = false;
  const start = async () => {
    if (started) return;
    started = true;
    try {
      config = await (await request("GET", "/config", null, false)).json();
    } catch (e) {
      started = false;
      errorLine.textContent = e.message || t("offline");
      return;
    }
    title.textContent = config.agent_name;
    input.setAttribute("maxlength", String(config.max_message_chars));
    if (config.greeting) addMessage("assistant", config.greeting);
    if (config.min_age && saved.age !== "ok") ageGate();
    if (config.analytics_consent_required && !saved.consent) consentBanner();
    await loadHistory();
  };

  const open = () => {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    launcher.setAttribute("aria-label", t("close"));
    start().then(() => { if (view.hidden) input.focus(); });
  };
  const close = () => {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-label", t("open"));
    launcher.focus();
  };
  launcher.addEventListener("click", () => (panel.hidden ? open() : close()));
  closeBtn.addEventListener("click", close);
  privacyBtn.addEventListener("click", () => (view.hidden ? privacyView() : showChat()));
  root.addEventListener("keydown", (e) => { if (e.key === "Escape" && !panel.hidden) close(); });

  const mount = () => {
    document.body.append(host);
    if (opt.open === "true") open();
  };
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
