/** The channel kind as a small coloured label. */

const LABELS: Record<string, string> = {
  telegram: "Telegram", vk: "VK", ok: "OK", whatsapp: "WhatsApp", instagram: "Instagram",
  messenger: "Messenger", email: "E-mail", widget: "Widget", api: "API",
};

export function ChannelBadge({ kind }: { kind: string }) {
  return <span class={`channel channel-${kind.replace(/[^a-z]/g, "")}`}>{LABELS[kind] ?? kind}</span>;
}
