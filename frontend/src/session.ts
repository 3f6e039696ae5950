/**
 * Who is signed in. Today the only method is an API key pasted once and kept in localStorage; the team issue
 * adds e-mail links / OAuth as further `SignInMethod`s that end in the same `Session`.
 */

import { ApiError, currentWorkspace, logout, sessionState, whoAmI } from "./api";
import type { Me } from "./types";

export interface Session {
  method: "api_key" | "cookie";
  token: string; // "" for a cookie session
  me: Me;
}

export type SignInMethod = "api_key" | "email_link";
export const SIGN_IN_METHODS: readonly SignInMethod[] = ["email_link", "api_key"];

const STORAGE_KEY = "zabota.apiKey";

function storage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

export function storedToken(): string | null {
  return storage()?.getItem(STORAGE_KEY) || null;
}

/** Check the key with the server, keep it, and answer the session (throws ApiError for a wrong key). */
export async function signInWithKey(key: string): Promise<Session> {
  const token = key.trim();
  if (!token) throw new ApiError(400, "empty_key", "");
  const me = await whoAmI(token);
  storage()?.setItem(STORAGE_KEY, token);
  return { method: "api_key", token, me };
}

/** The session kept from an earlier visit, if its key still works. */
export async function resume(): Promise<Session | null> {
  const token = storedToken();
  if (!token) return resumeCookie();
  try {
    return { method: "api_key", token, me: await whoAmI(token) };
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) storage()?.removeItem(STORAGE_KEY);
    throw err;
  }
}

/**
 * A session cookie set by an e-mailed link, an invitation or an external account (HttpOnly: only the server can
 * tell). Asked first with a probe that answers 200 either way, so a logged-out visit logs no failed request.
 */
async function resumeCookie(): Promise<Session | null> {
  const state = await sessionState().catch(() => null);
  if (!state?.signed_in) return null;
  if (!currentWorkspace() && state.workspaces.length > 0) {
    try {
      window.sessionStorage.setItem("zabota.workspace", state.workspaces[0].id); // several: the first, by id
    } catch {
      // no sessionStorage: a user with one workspace still works without the header
    }
  }
  try {
    return { method: "cookie", token: "", me: await whoAmI("") };
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403 || err.status === 400)) return null;
    throw err;
  }
}

export function signOut(): void {
  storage()?.removeItem(STORAGE_KEY);
  void logout().catch(() => undefined); // ends a cookie session on the server too
}

export function can(session: Session | null, permission: string): boolean {
  return !!session && session.me.permissions.includes(permission);
}
