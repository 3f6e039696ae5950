/** Globals the pages read: deployment settings from /config.js, and CSS imported as text. */

interface ZabotaConfig {
  apiBase?: string;
  wsUrl?: string;
}

interface Window {
  ZABOTA_CONFIG?: ZabotaConfig;
}

declare module "*.css?inline" {
  const css: string;
  export default css;
}

declare module "*.css" {}
