/** Shapes of the REST API (GET /api/openapi.json) as the console reads them. */

/** The built-in three, or one of the team's own (team settings). */
export type Status = "new" | "in_progress" | "closed" | (string & {});

export interface CustomStatus {
  id: string;
  label: string;
}

export interface TeamSettings {
  round_robin: boolean;
  default_capacity: number;
  sla_minutes: number;
  statuses: CustomStatus[];
  sla_policies?: SlaPolicy[];
  working_hours?: WorkingHours | null;
  off_hours_messages?: { ru?: string; en?: string };
  stale_hours?: number;
}

/** SLA policy (E2): the first whose channels / tags match a waiting conversation sets its targets. */
export interface SlaPolicy {
  id: string;
  name: string;
  channel_ids: string[];
  tags: string[];
  first_response_minutes: number;
  next_response_minutes: number;
}

export type Weekday = "mon" | "tue" | "wed" | "thu" | "fri" | "sat" | "sun";
export const WEEKDAYS: readonly Weekday[] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/** Working hours (E1) in an IANA time zone; days map to [start, end] pairs ("24:00" ends a day). */
export interface WorkingHours {
  time_zone: string;
  week: Partial<Record<Weekday, [string, string][]>>;
  holidays: string[];
}

/** An automation rule (E3): when + conditions (all / any) + actions. */
export interface RuleItem { type: string; value: unknown }
export interface Rule {
  id?: string;
  name: string;
  enabled: boolean;
  position?: number;
  when: { trigger: string; minutes?: number; tag?: string };
  match: "all" | "any";
  conditions: RuleItem[];
  actions: RuleItem[];
  valid?: boolean;
  updated_at?: string;
}

export interface DryRun {
  checked: number;
  matched: { conversation_id: string; contact_name: string; status: string; text: string; actions: string[] }[];
}

/** An outgoing webhook subscription (E5) and its deliveries. */
export interface Hook {
  id: string;
  url: string;
  events: string[];
  enabled: boolean;
  disabled_reason: string | null;
  failed_in_a_row: number;
  created_at: string;
}

export interface Delivery {
  id: string;
  event: string;
  state: "pending" | "sending" | "retrying" | "delivered" | "failed" | "cancelled";
  attempts: number;
  created_at: string;
  last_attempt_at: string | null;
  next_attempt_at: string | null;
  last_status: number | null;
  last_error: string | null;
}

/** One entry of the bell (D3). */
export interface AppNotification {
  id: string;
  kind: string;
  title: string;
  body: string;
  link: { conversation_id?: string; task_id?: string };
  actor: string | null;
  created_at: string;
  read: boolean;
  text_key?: string | null;
  params?: Record<string, string>;
}

export interface NotificationList {
  items: AppNotification[];
  unread: number;
  next: string | null;
}

export interface NotificationSettings {
  events: Record<string, ("console" | "email")[]>;
  channels: ("console" | "email")[];
  email_mode: "instant" | "digest";
  quiet_hours: { start: string; end: string; time_zone: string } | null;
  kinds: string[];
}
export const STATUSES: readonly Status[] = ["new", "in_progress", "closed"];

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Me {
  workspace_id: string;
  role: string;
  subject: string;
  name: string;
  email?: string | null;
  via?: "key" | "session";
  permissions: string[];
}

/** A reply template (B7): `/shortcut` in the reply box inserts `text` with its variables filled in. */
export interface Template {
  id: string;
  title: string;
  text: string;
  shortcut: string;
}

export interface TemplateList extends Page<Template> {
  workspace_name: string;
}

export interface Channel {
  id: string;
  kind: string;
  name: string;
  enabled: boolean;
}

export interface Conversation {
  id: string;
  channel_id: string;
  channel_kind: string;
  contact_id: string;
  contact_name: string;
  revision?: number; // +1 on every change: the newest copy wins
  blocked?: boolean;
  /** The customer has waited for an answer since (null: answered, or nobody waits). */
  awaiting_since?: string | null;
  emotion?: Emotion | null;
  /** This wait passed its SLA target (E2). */
  sla_breached?: boolean;
  /** Snoozed (status "snoozed") until then (E4). */
  snoozed_until?: string | null;
  title: string;
  surface: string;
  status: Status;
  assignee_id: string | null;
  tags: string[];
  last_activity_at: string;
  last_message_preview: string;
  last_message_direction: string;
  unread_count: number;
  message_count: number;
  first_response_seconds: number | null;
  created_at: string;
}

export interface Identity {
  channel_id: string;
  channel_kind: string;
  external_user_id: string;
  display_name: string;
  username: string;
}

export interface Contact {
  id: string;
  display_name: string;
  username: string;
  phone: string;
  email: string;
  language: string;
  notes: string;
  custom_fields: Record<string, string>;
  /** +1 on each edit: an edit names the revision it was made on (409 stale otherwise). */
  revision: number;
  created_at: string;
  identities: Identity[];
}

export type Emotion = "positive" | "neutral" | "negative";
export const EMOTIONS: readonly Emotion[] = ["positive", "neutral", "negative"];

/** An operator's correction of the client card (PATCH /api/contacts/{id}). */
export interface ContactPatch {
  revision: number;
  display_name?: string;
  email?: string;
  phone?: string;
  notes?: string;
  custom_fields?: Record<string, string>;
}

export interface ConversationDetail extends Conversation {
  contact: Contact | null;
  history: Conversation[];
}

export interface Attachment {
  kind: string;
  mime_type: string | null;
  file_name: string | null;
  size_bytes: number | null;
  duration_s: number | null;
  caption?: string | null;
  url: string | null;
  state: "ready" | "fetching" | "failed";
}

export interface Message {
  id: string;
  conversation_id: string;
  direction: "in" | "out" | "note" | "system";
  origin: string;
  author_id: string | null;
  text: string;
  attachments: Attachment[];
  reply_to: string | null;
  external_message_id: string | null;
  status: "received" | "pending" | "sent" | "failed";
  error: { code: string; message: string } | null;
  attempts: number;
  edited: boolean;
  deleted: boolean;
  delivery: string | null;
  private: boolean;
  comment: { post_id?: string; comment_id?: string; permalink?: string } | null;
  /** An edit, delete or hide carried out at the provider by the server: pending, then done or failed with a reason. */
  action?: {
    kind: "edit" | "delete" | "hide"; hidden?: boolean; state: "pending" | "done" | "failed";
    error?: { code: string; message: string };
  } | null;
  /** A customer's public comment hidden from everyone but its author (Facebook, Instagram). */
  hidden?: boolean;
  created_at: string;
  sent_at: string | null;
}

/** One conversation's answer to a bulk reply (B5): queued with its message, or refused with the reason. */
export interface BulkReplyItem {
  conversation_id: string;
  message_id?: string;
  status?: string;
  error?: { code: string; message: string };
}

export interface BulkReplyResult {
  request_id: string;
  items: BulkReplyItem[];
}

export interface Upload {
  upload_id: string;
  file_name: string;
  mime_type: string;
  size_bytes: number;
  kind: string;
}

/** Live events pushed over the WebSocket. */
export type PresenceState = "online" | "away" | "offline";

/** A colleague's presence (B10): online / away / offline and the conversation open in their console. */
export interface Presence {
  user_id: string;
  state: PresenceState;
  viewing: string | null;
}

export interface Member {
  user_id: string;
  name: string;
  email: string;
  role: string;
  presence: Presence;
}

export type LiveEvent =
  | { type: "conversation.updated"; conversation: Conversation }
  | { type: "message.new" | "message.updated"; conversation_id: string; message: Message }
  | ({ type: "presence.updated"; at: string } & Presence)
  | { type: "contact.updated"; contact: Contact }
  | { type: "task.updated"; task: Task }
  | { type: "survey.updated"; survey: Survey }
  | { type: "presence.typing"; user_id: string; conversation_id: string; at: string }
  | { type: "notification.new"; notification: AppNotification; unread: number }
  | { type: "notification.read"; unread: number }
  | { type: "analytics.updated" }
  | { type: "pong" };

/** The customer simulator (embedded mode only). */
export interface SimChannel {
  id: string;
  kind: string;
  name: string;
}

export interface SimSent {
  status: number;
  external_conversation_id: string;
}

export interface SimSeen {
  id: string;
  text: string;
  attachments: string[];
  at: number | string | null;
  buttons?: { label: string; data: string }[];  // a survey's buttons (Telegram, VK, WhatsApp)
}

// --- tasks (F1-F4) ---------------------------------------------------------------------------------------------

export type TaskStatus = "open" | "in_progress" | "waiting" | "done" | "cancelled";
export const TASK_STATUSES: readonly TaskStatus[] = ["open", "in_progress", "waiting", "done", "cancelled"];
export type TaskPriority = "low" | "normal" | "high" | "urgent";
export const TASK_PRIORITIES: readonly TaskPriority[] = ["low", "normal", "high", "urgent"];
export type TaskView = "current" | "overdue" | "done";
export type TaskScope = "all" | "mine" | "team";
export type TaskSort = "created" | "deadline" | "status" | "assignee";

export interface TaskLink {
  conversation_id: string;
  message_id?: string;
  quote?: string;
}

export interface Task {
  id: string;
  number: number;
  title: string;
  description: string;
  status: TaskStatus;
  priority: TaskPriority;
  deadline: string | null;
  timezone: string | null;
  remind_minutes: number;
  assignee_id: string | null;
  watchers: string[];
  tags: string[];
  team_id: string | null;
  links: TaskLink[];
  escalation: { from_team: string | null; to_team: string; to_team_name: string; by: string; at: string; note: string } | null;
  escalated_by: string | null;
  created_by: string;
  created_at: string;
  updated_at: string | null;
  done_at: string | null;
  comment_count: number;
  revision: number;
  overdue: boolean;
  done_note: string | null;
}

export interface TaskEvent {
  id: string;
  kind: "created" | "changed" | "escalated" | "comment";
  actor: string;
  at: string;
  changes: { field: string; before: unknown; after: unknown }[];
  text: string;
}

export interface TaskDetail extends Task {
  timeline: TaskEvent[];
  conversations: { id: string; contact_name: string; channel_kind: string; status: string; title: string }[];
}

export interface TaskTeam {
  id: string;
  name: string;
  member_ids: string[];
}

export interface TaskWrite {
  title?: string;
  description?: string;
  status?: TaskStatus;
  priority?: TaskPriority;
  deadline?: string | null;
  timezone?: string | null;
  remind_minutes?: number;
  assignee_id?: string | null;
  watchers?: string[];
  tags?: string[];
  team_id?: string | null;
  links?: TaskLink[];
  revision?: number;
}

export interface TaskPage extends Page<Task> {
  sort: TaskSort;
  team_id: string | null;
}

/** CSAT / NPS surveys (G4). */
export interface SurveySettings {
  csat_enabled: boolean;
  csat_question: { ru?: string; en?: string };
  delay_minutes: number;
  csat_window_days: number;
  nps_enabled: boolean;
  nps_question: { ru?: string; en?: string };
  nps_interval_days: number;
  answer_hours: number;
  channels: string[];
  thanks: { ru?: string; en?: string };
}

export interface Survey {
  id: string;
  kind: "csat" | "nps";
  conversation_id: string | null;
  operator_id: string | null;
  state: "pending" | "sent" | "answered" | "expired" | "failed";
  score: number | null;
  answered_at: string | null;
  answered_via: string | null;
  created_at: string | null;
}

/** One hit of the full-text search (B1): where it is and a plain-text snippet with the matching words' offsets. */
export interface SearchHit {
  kind: "message" | "note" | "contact" | "conversation" | "article";
  score: number;
  at: string | null;
  conversation: Conversation | null;
  message_id: string | null;
  direction: string | null;
  hidden: boolean;
  contact: { id: string; name: string } | null;
  article: { id: string; title: string; language: string; status: string } | null;
  title: string;
  snippet: string;
  marks: [number, number][];
}

export interface ArticleVersion {
  title: string;
  body: string;
}

/** A knowledge-base article (H1). */
export interface Article {
  id: string;
  category: string;
  status: "draft" | "published";
  versions: Partial<Record<"ru" | "en", ArticleVersion>>;
  url: string | null;
  uses: number;
  revision: number;
  updated_at: string | null;
}

export type ArticleWrite = Omit<Article, "id" | "uses" | "revision" | "updated_at"> & { revision?: number };
/** A card merged into another (C2): undo within 24 h (`undo_until`). */
export interface MergeInfo {
  id: string;
  survivor_id: string;
  other_id: string;
  state: "done" | "undone";
  by: string;
  at: string;
  undo_until: string;
  identities: number;
  conversations: number;
  other_name: string;
  undone_at: string | null;
}

/** GET /api/contacts/{id}: the card with its history and merges. */
export interface ContactCard {
  contact: Contact;
  history: Conversation[];
  merged_into: string | null;
  merges: MergeInfo[];
}

export type MergeSide = "survivor" | "other" | "both";
export type MergeField = "display_name" | "email" | "phone" | "notes" | "custom_fields";

export interface MergePreview {
  survivor_id: string;
  other_id: string;
  revisions: { survivor: number; other: number };
  fields: { field: MergeField; survivor: unknown; other: unknown; side: MergeSide; result: unknown; sides: MergeSide[] }[];
  tags: { survivor: string[]; other: string[]; result: string[] };
  moves: { identities: number; conversations: number };
  result: { identities: number; conversations: number };
}

export interface Duplicate {
  contact_id: string;
  display_name: string;
  email: string;
  phone: string;
  reasons: ("email" | "phone" | "name")[];
}

/** H2: customers writing about the same problem recently. */
export interface RepeatCluster {
  id: string;
  customers: number;
  terms: string[];
  tags: string[];
  first_at: string;
  last_at: string;
  sudden: boolean;
  conversations: { id: string; contact_name: string; channel_kind: string; status: string; text: string; at: string }[];
}

export interface WorkspaceExport {
  url: string;
  file_name: string;
  items: number;
  users: number;
  files: number;
  bytes: number;
}
