/**
 * What a request to the API carries for CloudFront (docs/DEPLOY.md). Behind CloudFront the API is a Lambda Function
 * URL that only CloudFront may call: its origin access control signs each request, which takes the Authorization
 * header, so the caller's credential also travels as X-Zabota-Authorization; and Lambda takes no unsigned payload,
 * so a request that may carry a body states its SHA-256 in x-amz-content-sha256. Embedded mode reads Authorization
 * and ignores the rest. Shared by the console (api.ts) and widget.js (widget/client.ts).
 */

export const CREDENTIAL_HEADER = "X-Zabota-Authorization";

/** The credential, in the header the app reads directly and in the one that survives CloudFront's signature. */
export function credentialHeaders(value: string): Record<string, string> {
  return { Authorization: value, [CREDENTIAL_HEADER]: value };
}

/** `x-amz-content-sha256` of the exact body sent (empty for none); nothing for GET / HEAD / OPTIONS, or where the
 * page has no Web Crypto (plain http off localhost: only embedded mode is served that way). */
export async function payloadHeaders(method: string, body?: string): Promise<Record<string, string>> {
  const subtle = globalThis.crypto?.subtle;
  if (["GET", "HEAD", "OPTIONS"].includes(method.toUpperCase()) || !subtle) return {};
  const digest = new Uint8Array(await subtle.digest("SHA-256", new TextEncoder().encode(body ?? "")));
  return { "x-amz-content-sha256": Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("") };
}
