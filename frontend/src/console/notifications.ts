/**
 * The bell (D3): my notifications in this workspace, the unread count live over the WebSocket, mark read.
 * Only signed-in people have notifications (an API key is nobody to notify), so the bell waits for a cookie session.
 */

import { ApiError } from "../api";
import { Store } from "../store";
import type { AppNotification, NotificationSettings } from "../types";
import { openTask, showTasks } from "../tasks/state";
import { currentApi, onLive, openConversation, store } from "./state";

export interface BellState {
  enabled: boolean;
  loading: boolean;
  items: AppNotification[];
  unread: number;
  next: string | null;
  error: ApiError | null;
}

export const bell = new Store<BellState>({
  enabled: false, loading: false, items: [], unread: 0, next: null, error: null,
});

function asError(err: unknown): ApiError {
  return err instanceof ApiError ? err : new ApiError(0, "error", String(err));
}

export async function loadBell(): Promise<void> {
  if (!bell.state.enabled) return;
  bell.update({ loading: true });
  try {
    const page = await currentApi().notifications();
    bell.update({ items: page.items, unread: page.unread, next: page.next, loading: false, error: null });
  } catch (err) {
    bell.update({ loading: false, error: asError(err) });
  }
}

export async function loadMore(): Promise<void> {
  const { next, items } = bell.state;
  if (!next) return;
  try {
    const page = await currentApi().notifications(next);
    bell.update({ items: [...items, ...page.items.filter((n) => !items.some((o) => o.id === n.id))],
                  next: page.next, unread: page.unread });
  } catch (err) {
    bell.update({ error: asError(err) });
  }
}

export async function markRead(ids: string[] | "all"): Promise<void> {
  const before = bell.state;
  bell.update({ items: before.items.map((n) => (ids === "all" || ids.includes(n.id) ? { ...n, read: true } : n)) });
  try {
    const { unread } = await currentApi().readNotifications(ids);
    bell.update({ unread });
  } catch (err) {
    bell.update({ items: before.items, error: asError(err) });
  }
}

/** Open what a notification is about (a conversation) and mark it read. */
export async function follow(item: AppNotification): Promise<void> {
  if (!item.read) void markRead([item.id]);
  if (item.link.conversation_id) {
    await openConversation(item.link.conversation_id);
  } else if (item.link.task_id) {
    showTasks();
    await openTask(item.link.task_id);
  }
}

export function loadSettings(): Promise<NotificationSettings> {
  return currentApi().notificationSettings();
}

export function saveSettings(patch: Partial<NotificationSettings>): Promise<NotificationSettings> {
  return currentApi().saveNotificationSettings(patch);
}

store.addEventListener("change", () => {
  const { boot, session } = store.state;
  const enabled = boot === "ready" && session?.method === "cookie";
  if (enabled === bell.state.enabled) return;
  bell.update({ enabled, items: [], unread: 0, next: null, error: null });
  if (enabled) void loadBell();
});

onLive((event) => {
  if (!bell.state.enabled) return;
  if (event.type === "notification.new") {
    const items = bell.state.items.filter((n) => n.id !== event.notification.id);
    bell.update({ items: [event.notification, ...items], unread: event.unread });
  } else if (event.type === "notification.read") {
    bell.update({ unread: event.unread });
  }
});
