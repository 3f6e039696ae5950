/** An attachment: images inline, voice and audio playable, video inline, anything else as a download link. */

import { formatSize, t } from "../i18n";
import type { Attachment } from "../types";
import { safeUrl } from "./safeUrl";

export function AttachmentView({ attachment }: { attachment: Attachment }) {
  return (
    <figure class="att-box">
      <AttachmentBody attachment={attachment} />
      {attachment.caption && <figcaption>{attachment.caption}</figcaption>}
    </figure>
  );
}

function AttachmentBody({ attachment: a }: { attachment: Attachment }) {
  const url = safeUrl(a.url);
  const name = a.file_name || t("att_file");
  if (a.state === "fetching") return <span class="att att-wait">{t("att_fetching")}</span>;
  if (a.state === "failed" || !url) return <span class="att att-failed">{t("att_failed")} {name}</span>;
  if (a.kind === "image" || a.kind === "sticker") {
    return (
      <a class="att att-image" href={url} target="_blank" rel="noopener noreferrer">
        <img src={url} alt={name} loading="lazy" />
      </a>
    );
  }
  if (a.kind === "voice" || a.kind === "audio") {
    return (
      <span class="att att-audio">
        <audio controls preload="none" src={url} aria-label={a.kind === "voice" ? t("att_voice") : name} />
      </span>
    );
  }
  if (a.kind === "video") return <video class="att att-video" controls preload="metadata" src={url} />;
  return (
    <a class="att att-doc" href={url} download={name} target="_blank" rel="noopener noreferrer">
      <svg aria-hidden="true" width="16" height="16" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2">
        <path d="M14 3H6v18h12V7zM14 3v4h4" />
      </svg>
      {name} <span class="muted">{formatSize(a.size_bytes)}</span>
    </a>
  );
}
