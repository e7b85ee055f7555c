// Tessera's web page: small progressive enhancements. Every page works
// without this file; it adds copy-to-clipboard and shows only the form
// parts that apply to the current choice.
"use strict";

function copyValue(button) {
  const target = document.getElementById(button.dataset.copy);
  const status = document.querySelector("[data-copy-status]");
  if (!target) return;
  const done = (ok) => {
    if (status) status.textContent = ok ? "Copied to the clipboard." : "Select the token and copy it by hand.";
    button.textContent = ok ? "Copied" : "Copy";
  };
  target.focus();
  target.select();
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(target.value).then(() => done(true), () => done(document.execCommand("copy")));
  } else {
    done(document.execCommand("copy"));
  }
}

// Shows the sub-fields of the checked scope radio (role select, custom
// roles, policy text) and hides the others.
function syncScope(group) {
  const checked = group.querySelector('input[name="scope"]:checked');
  const kind = checked ? checked.value : "inherit";
  for (const sub of group.querySelectorAll("[data-scope-for]")) {
    sub.hidden = sub.dataset.scopeFor !== kind;
  }
}

function syncExpiry(form) {
  const date = form.querySelector("[data-expiry-date]");
  if (!date) return;
  const checked = form.querySelector('input[name="expiry"]:checked');
  date.hidden = !(checked && checked.value === "custom");
}

// A page holding a secret forgets it when left: even if the browser keeps
// the page in its back/forward cache, going back shows no value.
function forgetSecrets() {
  for (const el of document.querySelectorAll("[data-secret]")) {
    if ("value" in el && el.tagName === "INPUT") el.value = "";
    else el.textContent = "(hidden: a value is shown only once)";
  }
  for (const el of document.querySelectorAll("[data-copy]")) el.disabled = true;
}

window.addEventListener("pagehide", forgetSecrets);
window.addEventListener("pageshow", (event) => {
  if (event.persisted) forgetSecrets();
});

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", () => copyValue(button));
  }
  for (const group of document.querySelectorAll("[data-scope-group]")) {
    syncScope(group);
    group.addEventListener("change", () => syncScope(group));
  }
  for (const form of document.querySelectorAll("form")) {
    if (!form.querySelector("[data-expiry-date]")) continue;
    syncExpiry(form);
    form.addEventListener("change", () => syncExpiry(form));
  }
  // After a rejected form, take keyboard focus to the first problem.
  const invalid = document.querySelector('[aria-invalid="true"]');
  if (invalid) invalid.focus();
});
