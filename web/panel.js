// comfyui-instantid: the small DOM helpers the pack's panels share (the cubiq conversion offer, the model
// download panel, the keypoint editor's toolbar): making elements, and one style sheet per panel, added once.
// Plain DOM: nothing of the frontend is touched here.

// An element with properties (`dataset` entries copied, since dataset itself is read-only) and children (null and
// undefined left out).
export function el(tag, props = {}, children = []) {
  const { dataset, ...rest } = props;
  const node = Object.assign(document.createElement(tag), rest);
  Object.assign(node.dataset, dataset ?? {});
  node.append(...children.filter((c) => c != null));
  return node;
}

// The look every panel of the pack shares: a floating card in the frontend's colours with a coloured left edge
// (the panel's class "done" / "failed" turns it green / red), a bold title, a row of buttons, one primary.
function panelCss(id, accent) {
  return `
#${id} { position: fixed; z-index: 1000; display: flex; flex-direction: column; box-sizing: border-box;
  padding: 14px 16px; background: var(--comfy-menu-bg, #353535); color: var(--fg-color, #fff);
  border: 1px solid var(--border-color, #4e4e4e); border-left: 4px solid ${accent}; border-radius: 8px;
  box-shadow: 0 6px 24px rgba(0, 0, 0, 0.45); }
#${id}.done { border-left-color: #3fb950; }
#${id}.failed { border-left-color: #f85149; }
#${id} .iid-title { font-weight: bold; font-size: 15px; }
#${id} .iid-buttons { display: flex; gap: 8px; justify-content: flex-end; }
#${id} button { cursor: pointer; padding: 6px 12px; border-radius: 6px; font: inherit;
  border: 1px solid var(--border-color, #4e4e4e); background: var(--comfy-input-bg, #222);
  color: var(--input-text, #ddd); }
#${id} button.iid-primary { background: #2f6fde; border-color: #2f6fde; color: #fff; font-weight: bold; }
#${id} button:disabled { opacity: 0.6; cursor: default; }`;
}

// Add the style sheet of the panel `id` once: the shared look with its `accent` colour, then `css` (its own rules,
// which win over the shared ones).
export function addPanelStyle(id, accent, css) {
  if (document.getElementById(`${id}-style`)) return;
  const style = el("style", { id: `${id}-style`, textContent: panelCss(id, accent) + css });
  document.head.append(style);
}

// A button of a panel; `action` names it for tests (data-action).
export function panelButton(label, action, primary = false) {
  return el("button", { type: "button", textContent: label, className: primary ? "iid-primary" : "",
    dataset: { action } });
}
