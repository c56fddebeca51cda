// comfyui-instantid: the web extension's own texts in the user's ComfyUI language.
//
// The translations live in the pack's locales/<lang>/main.json under "instantidPrecision"; ComfyUI serves them
// at /i18n and the frontend merges them into its own vue-i18n messages, so they follow the Comfy.Locale setting.
// This module reads them through that i18n (the mounted Vue app's global $t/$te); without it, or for a key the
// current language lacks, the English text written at the call site is used.
//
// scripts/build_locales.py collects every call into locales/en/main.json, so each call is written
// t("dotted.key", "English text"[, params]): the key and the English as double-quoted literals (the English may
// be several joined with +); {name} in the text is replaced by params.name.
//
// Parameters are never handed to the frontend's i18n as values: it HTML-escapes interpolated values (1.49 and
// 1.58 turn "custom_nodes/x" into "custom_nodes&#x2F;x"), and every caller sets the result as plain text
// (textContent), where an entity is shown as typed. The i18n gets a marker per parameter instead (letters and
// private-use characters, which it leaves alone), and the markers are replaced by the values here.
import { frontendI18n } from "./frontend_adapter.js";

const NAMESPACE = "instantidPrecision";


function fill(text, params) {
  return params ? text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole)) : text;
}

const MARK_OPEN = "\uE000";
const MARK_CLOSE = "\uE001";
const MARKED = new RegExp(`${MARK_OPEN}(\\w+)${MARK_CLOSE}`, "g");

function translated(frontend, full, params) {
  if (!params) return frontend.$t(full);
  const markers = Object.fromEntries(Object.keys(params).map((name) => [name, `${MARK_OPEN}${name}${MARK_CLOSE}`]));
  return frontend.$t(full, markers).replace(MARKED, (whole, name) => (name in params ? String(params[name]) : whole));
}

export function t(key, english, params) {
  const frontend = frontendI18n();
  const full = `${NAMESPACE}.${key}`;
  try {
    if (frontend?.$te(full)) return translated(frontend, full, params);
  } catch (err) {
    console.debug("[InstantID] translation failed, using English:", full, err);
  }
  return fill(english, params);
}
