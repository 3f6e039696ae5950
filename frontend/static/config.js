// Deployment settings of the console. Embedded mode keeps the defaults (same origin for /api and /ws);
// a deployment replaces this file, e.g. window.ZABOTA_CONFIG = { wsUrl: "wss://…/live" }.
window.ZABOTA_CONFIG = window.ZABOTA_CONFIG || {};
