/**
 * The list of reply templates under the reply box (B7), opened by typing `/` at the start of the text or after a
 * space. The textarea keeps the focus: it moves the active option (ArrowUp / ArrowDown) and picks it (Enter);
 * a click picks too. Texts are rendered as text nodes only.
 */

import { t } from "../i18n";
import type { Template } from "../types";

export const PICKER_ID = "template-picker";

export function optionId(template: Template): string {
  return `template-option-${template.id}`;
}

interface Props {
  items: Template[];
  active: number;
  loaded: boolean;
  onPick: (template: Template) => void;
  onHover: (index: number) => void;
}

export function TemplatePicker({ items, active, loaded, onPick, onHover }: Props) {
  return (
    <div class="template-picker">
      <ul id={PICKER_ID} role="listbox" aria-label={t("templates_label")}>
        {items.map((template, index) => (
          <li key={template.id} id={optionId(template)} role="option" aria-selected={index === active}
            class={index === active ? "active" : ""}
            onMouseDown={(e) => e.preventDefault() /* keep the focus (and the caret) in the reply box */}
            onMouseEnter={() => onHover(index)}
            onClick={() => onPick(template)}>
            <span class="template-shortcut">/{template.shortcut}</span>
            <span class="template-title">{template.title}</span>
            <span class="template-text muted">{template.text}</span>
          </li>
        ))}
      </ul>
      {items.length === 0 && <p class="muted">{loaded ? t("templates_none") : t("loading")}</p>}
    </div>
  );
}
