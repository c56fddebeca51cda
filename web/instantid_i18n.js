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
const NAMESPACE = "instantidPrecision";

let i18n = null; // the app's global properties once found (the faces list asks on every canvas draw)

function frontendI18n() {
  if (i18n) return i18n;
  const props = document.querySelector("[data-v-app]")?.__vue_app__?.config?.globalProperties;
  if (typeof props?.$t === "function" && typeof props?.$te === "function") i18n = props;
  return i18n;
}

function fill(text, params) {
  return params ? text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole)) : text;
}

export function t(key, english, params) {
  const frontend = frontendI18n();
  const full = `${NAMESPACE}.${key}`;
  try {
    if (frontend?.$te(full)) return frontend.$t(full, params ?? {});
  } catch (err) {
    console.debug("[InstantID] translation failed, using English:", full, err);
  }
  return fill(english, params);
}
