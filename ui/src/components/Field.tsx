// One form field: a label tied to its control (for/id), an optional hint below the control that
// describes it (aria-describedby), and an error state (aria-invalid). The control is a text,
// URL or secret input, a select (with an icon before it, if given) or a checkbox.
import type { ComponentChildren } from "preact";
import { useId } from "preact/hooks";

type FieldBase = {
  /** The label's words. */
  label: ComponentChildren;
  /** Muted words after the label: `true` for "(optional)", or others, such as "(required)". */
  optional?: boolean | string;
  /** A sentence below the control, which describes it. Its id is the control's + `-hint`. */
  hint?: ComponentChildren;
  /** The control's id; one is made when none is given. */
  id?: string;
  /** The value is refused: the control says so (aria-invalid) and looks it. */
  invalid?: boolean;
  /** Ids of more elements that describe the control: an error message, a line above it. */
  describedBy?: string;
  /** The control's data-testid. */
  testid?: string;
  disabled?: boolean;
  /** More classes on the field's box. */
  class?: string;
  /** The field box's data-testid. */
  boxTestid?: string;
  /** Shown between the label and the control. */
  before?: ComponentChildren;
  /** Shown after the control and its hint. */
  after?: ComponentChildren;
};

/** A one-line input; `secret` is a password input (never echoed, never remembered). */
export type TextFieldProps = FieldBase & {
  kind?: "text" | "url" | "secret";
  value: string;
  onValue: (value: string) => void;
  placeholder?: string;
};

export type SelectFieldProps = FieldBase & {
  kind: "select";
  value: string;
  onValue: (value: string) => void;
  /** Shown before the select, such as the chosen provider's icon. */
  icon?: ComponentChildren;
  /** The options. */
  children: ComponentChildren;
};

export type CheckboxFieldProps = FieldBase & {
  kind: "checkbox";
  checked: boolean;
  onChecked: (checked: boolean) => void;
};

export type FieldProps = TextFieldProps | SelectFieldProps | CheckboxFieldProps;

export function Field(props: FieldProps) {
  const made = useId();
  const id = props.id ?? made;
  const hintId = `${id}-hint`;
  const describedBy = [props.hint ? hintId : null, props.describedBy ?? null].filter(Boolean).join(" ") || undefined;
  const common = {
    id,
    "data-testid": props.testid,
    disabled: props.disabled,
    "aria-invalid": props.invalid ? ("true" as const) : undefined,
    "aria-describedby": describedBy,
  };
  const optional =
    props.optional === true ? "(optional)" : typeof props.optional === "string" ? props.optional : null;
  const label = (
    <>
      {props.label}
      {optional !== null && (
        <>
          {" "}
          <span class="optional">{optional}</span>
        </>
      )}
    </>
  );

  let control;
  if (props.kind === "checkbox") {
    const { checked, onChecked } = props;
    control = (
      <label class="check" for={id}>
        <input {...common} type="checkbox" checked={checked} onChange={(e) => onChecked(e.currentTarget.checked)} />
        {label}
      </label>
    );
  } else if (props.kind === "select") {
    const { onValue } = props;
    const select = (
      <select {...common} value={props.value} onChange={(e) => onValue(e.currentTarget.value)}>
        {props.children}
      </select>
    );
    control = props.icon ? (
      <div class="select-with-icon">
        {props.icon}
        {select}
      </div>
    ) : (
      select
    );
  } else {
    const { onValue } = props;
    const input = {
      ...common,
      value: props.value,
      placeholder: props.placeholder,
      onInput: (e: { currentTarget: HTMLInputElement }) => onValue(e.currentTarget.value),
      autocomplete: "off",
    };
    control =
      props.kind === "secret" ? (
        <input {...input} type="password" />
      ) : props.kind === "url" ? (
        <input {...input} type="url" spellcheck={false} />
      ) : (
        <input {...input} type="text" spellcheck={false} />
      );
  }

  return (
    <div class={props.class ? `field ${props.class}` : "field"} data-testid={props.boxTestid}>
      {props.kind !== "checkbox" && <label for={id}>{label}</label>}
      {props.before}
      {control}
      {props.hint && (
        <p class="hint" id={hintId}>
          {props.hint}
        </p>
      )}
      {props.after}
    </div>
  );
}
