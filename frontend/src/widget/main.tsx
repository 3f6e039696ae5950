/**
 * widget.js: `<script src="https://<zabota>/widget.js" data-channel="<channel id>" async></script>` on any page.
 * It renders into a shadow root (the page's CSS cannot touch it, ours cannot leak) and talks to the origin that
 * served the script. Optional `data-lang="ru|en"`.
 */

import { render } from "preact";
import css from "./widget.css?inline";
import { WidgetClient } from "./client";
import { widgetLang } from "./texts";
import { Widget } from "./Widget";

const script = document.currentScript as HTMLScriptElement | null;

function mount(): void {
  const channel = script?.dataset.channel;
  if (!script || !channel) {
    console.warn("zabota widget: the script tag needs data-channel");
    return;
  }
  const origin = new URL(script.src, location.href).origin;
  const host = document.createElement("div");
  host.id = "zabota-widget";
  document.body.appendChild(host);
  const shadow = host.attachShadow({ mode: "open" });
  const style = document.createElement("style");
  style.textContent = css;
  const root = document.createElement("div");
  shadow.append(style, root);
  render(<Widget client={new WidgetClient(origin, channel)} lang={widgetLang(script.dataset.lang)} />, root);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
else mount();
