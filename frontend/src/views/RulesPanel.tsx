/**
 * The rules editor (E3) inside the Automation dialog: the rules in the order they run (move up / down, switch on /
 * off, remove), and one rule's form with a dry run over the last 50 conversations before saving.
 */

import { useEffect, useState } from "preact/hooks";
import { ApiError } from "../api";
import { currentApi, store } from "../console/state";
import { known, t } from "../i18n";
import { useStore } from "../store";
import type { DryRun, Member, Rule, RuleItem, Template } from "../types";
import { errorText } from "./errors";

const TRIGGERS = ["conversation_created", "message_received", "tag_added", "no_answer", "customer_wrote_after_close"];
const CONDITIONS = ["text_contains", "text_regex", "channel_id", "channel_kind", "has_tag", "status", "language",
  "surface", "assigned"];
const ACTIONS = ["assign", "add_tag", "remove_tag", "set_status", "set_priority", "reply_template", "add_note",
  "notify", "webhook"];
const LISTS = new Set(["text_contains", "channel_id", "channel_kind", "has_tag", "status", "language", "notify"]);

const label = (prefix: string, id: string): string => {
  const key = `${prefix}_${id}`;
  return known(key) ? t(key) : id;
};

function blank(): Rule {
  return { name: "", enabled: true, when: { trigger: "message_received" }, match: "all", conditions: [],
           actions: [{ type: "add_tag", value: "" }] };
}

function asText(item: RuleItem): string {
  return Array.isArray(item.value) ? item.value.join(", ") : item.value === undefined ? "" : String(item.value);
}

function fromText(type: string, text: string): unknown {
  if (type === "assigned") return text === "true";
  return LISTS.has(type) ? text.split(",").map((v) => v.trim()).filter(Boolean) : text;
}

function asError(err: unknown): ApiError {
  return err instanceof ApiError ? err : new ApiError(0, "error", String(err));
}

export function RulesPanel() {
  const { channels, customStatuses } = useStore(store);
  const [rules, setRules] = useState<Rule[] | null>(null);
  const [editing, setEditing] = useState<Rule | null>(null);
  const [members, setMembers] = useState<Member[]>([]);
  const [templates, setTemplates] = useState<Template[]>([]);
  const [hooks, setHooks] = useState<{ id: string; url: string }[]>([]);
  const [dry, setDry] = useState<DryRun | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const api = currentApi();

  const load = (): void => {
    api.rules().then((r) => setRules(r.items), (e) => setError(asError(e)));
  };
  useEffect(() => {
    load();
    api.members().then((m) => setMembers(m.items), () => undefined);
    api.templates().then((tl) => setTemplates(tl.items), () => undefined);
    api.hooks().then((h) => setHooks(h.items), () => undefined);
  }, []);

  const save = async (rule: Partial<Rule>): Promise<void> => {
    setError(null);
    try {
      await api.saveRule(rule);
      setEditing(null);
      setDry(null);
      load();
    } catch (err) {
      setError(asError(err));
    }
  };
  const move = async (index: number, by: number): Promise<void> => {
    if (!rules) return;
    const other = rules[index + by];
    const rule = rules[index];
    if (!other) return;
    await save({ id: rule.id, position: other.position ?? 0 });
    await save({ id: other.id, position: rule.position ?? 0 });
  };

  const statuses = ["new", "in_progress", "closed", ...customStatuses.map((s) => s.id)];
  const valueInput = (item: RuleItem, onChange: (value: unknown) => void, name: string) => {
    const select = (options: [string, string][]) => (
      <select aria-label={name} value={asText(item)} onChange={(e) => onChange(fromText(item.type, e.currentTarget.value))}>
        <option value="">—</option>
        {options.map(([v, text]) => <option key={v} value={v}>{text}</option>)}
      </select>
    );
    if (item.type === "assign") return select([["round_robin", t("rule_round_robin")], ...members.map((m) => [m.user_id, m.name || m.email] as [string, string])]);
    if (item.type === "reply_template") return select(templates.map((tpl) => [tpl.id, tpl.title]));
    if (item.type === "webhook") return select(hooks.map((h) => [h.id, h.url]));
    if (item.type === "set_status") return select(statuses.map((s) => [s, s]));
    if (item.type === "set_priority") return select(["low", "normal", "high", "urgent"].map((p) => [p, p]));
    if (item.type === "surface") return select([["private", "private"], ["comment", "comment"]]);
    if (item.type === "assigned") return select([["true", t("rule_yes")], ["false", t("rule_no")]]);
    if (item.type === "channel_id") return select(channels.map((c) => [c.id, c.name]));
    return <input aria-label={name} value={asText(item)} placeholder={LISTS.has(item.type) ? t("rule_comma") : ""}
      onInput={(e) => onChange(fromText(item.type, e.currentTarget.value))} />;
  };

  if (editing) {
    const r = editing;
    const set = (patch: Partial<Rule>): void => setEditing({ ...r, ...patch });
    const setItem = (list: "conditions" | "actions", i: number, patch: Partial<RuleItem>): void =>
      set({ [list]: r[list].map((it, j) => (j === i ? { ...it, ...patch } : it)) } as Partial<Rule>);
    return (
      <div class="rule-editor">
        <label class="field">{t("rule_name")}
          <input required maxLength={80} value={r.name} onInput={(e) => set({ name: e.currentTarget.value })} /></label>
        <label class="field">{t("rule_when")}
          <select value={r.when.trigger} onChange={(e) => set({ when: { trigger: e.currentTarget.value } })}>
            {TRIGGERS.map((tr) => <option key={tr} value={tr}>{label("trigger", tr)}</option>)}
          </select></label>
        {r.when.trigger === "no_answer" && (
          <label class="field">{t("rule_minutes")}<input type="number" min={1} max={10080} value={r.when.minutes ?? 30}
            onInput={(e) => set({ when: { ...r.when, minutes: Number(e.currentTarget.value) } })} /></label>
        )}
        {r.when.trigger === "tag_added" && (
          <label class="field">{t("rule_tag")}<input value={r.when.tag ?? ""}
            onInput={(e) => set({ when: { ...r.when, tag: e.currentTarget.value } })} /></label>
        )}
        <fieldset>
          <legend>{t("rule_if")}
            <select aria-label={t("rule_match")} value={r.match} onChange={(e) => set({ match: e.currentTarget.value as "all" | "any" })}>
              <option value="all">{t("rule_all")}</option><option value="any">{t("rule_any")}</option>
            </select></legend>
          {r.conditions.length === 0 && <p class="muted">{t("rule_no_conditions")}</p>}
          {r.conditions.map((c, i) => (
            <div class="rule-row" key={i}>
              <select aria-label={t("rule_condition")} value={c.type} onChange={(e) => setItem("conditions", i, { type: e.currentTarget.value, value: "" })}>
                {CONDITIONS.map((k) => <option key={k} value={k}>{label("cond", k)}</option>)}
              </select>
              {valueInput(c, (value) => setItem("conditions", i, { value }), `${label("cond", c.type)} ${i + 1}`)}
              <button type="button" class="link" onClick={() => set({ conditions: r.conditions.filter((_, j) => j !== i) })}>{t("settings_remove")}</button>
            </div>
          ))}
          <button type="button" onClick={() => set({ conditions: [...r.conditions, { type: "text_contains", value: [] }] })}>{t("rule_add_condition")}</button>
        </fieldset>
        <fieldset>
          <legend>{t("rule_then")}</legend>
          {r.actions.map((a, i) => (
            <div class="rule-row" key={i}>
              <select aria-label={t("rule_action")} value={a.type} onChange={(e) => setItem("actions", i, { type: e.currentTarget.value, value: "" })}>
                {ACTIONS.map((k) => <option key={k} value={k}>{label("act", k)}</option>)}
              </select>
              {valueInput(a, (value) => setItem("actions", i, { value }), `${label("act", a.type)} ${i + 1}`)}
              <button type="button" class="link" disabled={r.actions.length === 1}
                onClick={() => set({ actions: r.actions.filter((_, j) => j !== i) })}>{t("settings_remove")}</button>
            </div>
          ))}
          <button type="button" onClick={() => set({ actions: [...r.actions, { type: "add_tag", value: "" }] })}>{t("rule_add_action")}</button>
        </fieldset>
        {dry && (
          <div class="dry-run" role="status">
            <p>{t("rule_dry_result", { matched: dry.matched.length, checked: dry.checked })}</p>
            <ul>{dry.matched.slice(0, 10).map((m) => <li key={m.conversation_id}>{m.contact_name}: <span class="muted">{m.text}</span></li>)}</ul>
          </div>
        )}
        {error && <p class="form-error" role="alert">{errorText(error)}</p>}
        <div class="dialog-actions">
          <button type="button" onClick={() => { setEditing(null); setDry(null); setError(null); }}>{t("colleague_cancel")}</button>
          <button type="button" onClick={() => api.dryRun(r).then(setDry, (e) => setError(asError(e)))}>{t("rule_dry_run")}</button>
          <button type="button" class="primary" onClick={() => void save(r)}>{t("rule_save")}</button>
        </div>
      </div>
    );
  }
  return (
    <div class="rules-panel">
      {rules === null && !error && <p class="muted">{t("loading")}</p>}
      {rules?.length === 0 && <p class="muted">{t("rules_empty")}</p>}
      <ol class="rule-list">
        {rules?.map((r, i) => (
          <li key={r.id} class={r.enabled ? "" : "off"}>
            <span class="rule-name">{r.name}</span>
            <span class="muted">{label("trigger", r.when.trigger)}</span>
            {r.valid === false && <span class="form-error">{t("rule_invalid")}</span>}
            <label class="check"><input type="checkbox" checked={r.enabled}
              onChange={(e) => void save({ id: r.id, enabled: e.currentTarget.checked })} />{t("rule_enabled")}</label>
            <button type="button" class="link" aria-label={t("rule_up", { name: r.name })} disabled={i === 0} onClick={() => void move(i, -1)}>↑</button>
            <button type="button" class="link" aria-label={t("rule_down", { name: r.name })} disabled={i === rules.length - 1} onClick={() => void move(i, 1)}>↓</button>
            <button type="button" class="link" onClick={() => setEditing(r)}>{t("rule_edit")}</button>
            <button type="button" class="link" onClick={() => api.deleteRule(r.id ?? "").then(load, (e) => setError(asError(e)))}>{t("settings_remove")}</button>
          </li>
        ))}
      </ol>
      {error && <p class="form-error" role="alert">{errorText(error)}</p>}
      <button type="button" onClick={() => setEditing(blank())}>{t("rule_new")}</button>
    </div>
  );
}
