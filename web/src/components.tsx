import type { ComponentChildren, InputHTMLAttributes } from "preact";
import { useEffect, useId, useRef, useState } from "preact/hooks";

import { describe, type Load } from "./api";
import { Link, navigate as navigateTo, query } from "./router";

export const levels = ["critical", "high", "medium", "low"] as const;
export type Level = (typeof levels)[number];

export function RiskBadge({ level }: { level: Level }) {
  return <span class={`badge badge-${level}`}>{level}</span>;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return "never";
  const d = new Date(iso);
  const secs = Math.round((Date.now() - d.getTime()) / 1000);
  if (secs < 60) return "just now";
  if (secs < 3600) return `${Math.floor(secs / 60)} min ago`;
  if (secs < 86400) return `${Math.floor(secs / 3600)} h ago`;
  return d.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}

export function Time({ iso }: { iso: string | null | undefined }) {
  return iso ? <time dateTime={iso} title={new Date(iso).toLocaleString()}>{when(iso)}</time> : <span>never</span>;
}

export const count = (n: number) => n.toLocaleString("en-US");

/** "1 server", "2 servers": the count and the noun, plural unless one. */
export const counted = (n: number, noun: string) => `${count(n)} ${noun}${n === 1 ? "" : "s"}`;

/** What a page shows while it loads or when loading failed; children when loaded. */
export function Loaded<T>({ load, children, label }: { load: Load<T>; label: string; children: (data: T) => ComponentChildren }) {
  if (load.state === "loading") {
    return (
      <p class="muted" role="status">
        Loading {label}…
      </p>
    );
  }
  if (load.state === "error") {
    return <ErrorText error={load.error} />;
  }
  return <>{children(load.data)}</>;
}

export function ErrorText({ error }: { error: unknown }) {
  return error ? (
    <p class="error" role="alert">
      {describe(error)}
    </p>
  ) : null;
}

export function PageTitle({ title, children }: { title: string; children?: ComponentChildren }) {
  useEffect(() => {
    document.title = `${title} · mcpwarden`;
  }, [title]);
  return (
    <div class="page-title">
      <h1>{title}</h1>
      {children && <div class="actions">{children}</div>}
    </div>
  );
}

/** Pages of a list: previous, next, where we are, page size; every state a link. */
export function Pager({
  path,
  params,
  page,
  pageSize,
  total,
  label,
}: {
  path: string;
  params: Record<string, string | undefined>;
  page: number;
  pageSize: number;
  total: number;
  label: string;
}) {
  const pages = Math.max(1, Math.ceil(total / pageSize));
  const to = (p: number, size = pageSize) => path + query({ ...params, page: p === 1 ? undefined : p, page_size: size === 25 ? undefined : size });
  const first = total === 0 ? 0 : (page - 1) * pageSize + 1;
  const last = Math.min(total, page * pageSize);
  return (
    <nav class="pager" aria-label={`${label} pages`}>
      <span>
        {count(first)}–{count(last)} of {count(total)}
      </span>
      {page > 1 ? <Link href={to(page - 1)}>Previous page</Link> : <span class="muted" aria-hidden="true">Previous page</span>}
      <span>
        Page {count(page)} of {count(pages)}
      </span>
      {page < pages ? <Link href={to(page + 1)}>Next page</Link> : <span class="muted" aria-hidden="true">Next page</span>}
      <label>
        Per page{" "}
        <select value={String(pageSize)} onChange={(e) => navigateTo(to(1, Number((e.target as HTMLSelectElement).value)))}>
          {[10, 25, 50, 100].map((n) => (
            <option value={String(n)}>{n}</option>
          ))}
        </select>
      </label>
    </nav>
  );
}


/** A dialog that asks before doing something that cannot be undone. */
export function Confirm({
  open,
  title,
  children,
  confirm,
  onConfirm,
  onCancel,
}: {
  open: boolean;
  title: string;
  children: ComponentChildren;
  confirm: string;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={ref} aria-labelledby={titleId} onCancel={onCancel} onClose={onCancel}>
      <h2 id={titleId}>{title}</h2>
      {children}
      <div class="actions">
        <button type="button" class="danger" onClick={onConfirm}>
          {confirm}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </dialog>
  );
}

/**
 * ConfirmFor asks before an action on an item (null: nothing to confirm). Confirming closes it and
 * runs the action on that item through `action`, which shows its progress and error.
 */
export function ConfirmFor<T>({
  item,
  close,
  action,
  run,
  title,
  confirm,
  children,
}: {
  item: T | null;
  close: () => void;
  action: { run: (fn: () => Promise<void>) => Promise<boolean> };
  run: (item: T) => Promise<void>;
  title: string;
  confirm: string;
  children: ComponentChildren;
}) {
  return (
    <Confirm
      open={item !== null}
      title={title}
      confirm={confirm}
      onCancel={close}
      onConfirm={() => {
        const it = item;
        close();
        if (it !== null) void action.run(() => run(it));
      }}
    >
      {children}
    </Confirm>
  );
}

/**
 * ActionForm submits its fields' values to `submit` through `action`, and empties the form once
 * that succeeded (a created item's secret is shown once, not its form).
 */
export function ActionForm({
  action,
  submit,
  children,
}: {
  action: { run: (fn: () => Promise<void>) => Promise<boolean> };
  submit: (values: Record<string, string>) => Promise<void>;
  children: ComponentChildren;
}) {
  return (
    <form
      class="inline"
      onSubmit={(e) => {
        const form = e.currentTarget as HTMLFormElement;
        const v = formValues(e);
        void action.run(async () => {
          await submit(v);
          form.reset();
        });
      }}
    >
      {children}
    </form>
  );
}

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      onClick={() => {
        void navigator.clipboard?.writeText(text).then(() => setCopied(true), () => setCopied(false));
      }}
    >
      {copied ? "Copied" : label}
    </button>
  );
}

/** A secret shown once, with a copy button. */
export function Secret({ label, value }: { label: string; value: string }) {
  return (
    <div class="secret">
      <p>
        <strong>{label}</strong> (shown only now; store it before leaving this page)
      </p>
      <div class="secret-row">
        <code aria-label={label}>{value}</code>
        <CopyButton text={value} label={`Copy ${/^[A-Z][a-z]/.test(label) ? label[0]!.toLowerCase() + label.slice(1) : label}`} />
      </div>
    </div>
  );
}

type InputProps = InputHTMLAttributes<HTMLInputElement> & { label: string; name: string };

export function Field({ label, name, ...rest }: InputProps) {
  return (
    <label class="field">
      <span>{label}</span>
      <input name={name} {...rest} />
    </label>
  );
}

/** Runs an action with a busy flag and its error; returns whether it succeeded. */
export function useAction(): { busy: boolean; error: unknown; run: (fn: () => Promise<void>) => Promise<boolean>; clear: () => void } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async (fn: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      return true;
    } catch (e) {
      setError(e);
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run, clear: () => setError(null) };
}

/** The form's fields by name. */
export function formValues(e: Event): Record<string, string> {
  e.preventDefault();
  const data = new FormData(e.currentTarget as HTMLFormElement);
  const out: Record<string, string> = {};
  data.forEach((v, k) => {
    out[k] = String(v);
  });
  return out;
}

export type ExportFormat = "csv" | "ndjson";

/**
 * Buttons that download every row of the current filter (an export operation), as CSV or NDJSON.
 * The export needs the access token, which only the client holds, so it is fetched and then saved
 * from memory rather than linked.
 */
export function Downloads({ what, name, get }: { what: string; name: string; get: (format: ExportFormat) => Promise<Blob> }) {
  const action = useAction();
  const save = (format: ExportFormat) =>
    void action.run(async () => {
      const url = URL.createObjectURL(await get(format));
      const a = document.createElement("a");
      a.href = url;
      a.download = `${name}.${format}`;
      document.body.append(a);
      a.click();
      a.remove();
      // The download has started from the URL by the time the click returns; a minute is ample.
      window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
    });
  return (
    <div class="downloads" role="group" aria-label={`Download ${what}`}>
      <span class="muted">Download {what}:</span>
      <button type="button" disabled={action.busy} aria-label={`Download ${what} as CSV`} onClick={() => save("csv")}>
        CSV
      </button>
      <button type="button" disabled={action.busy} aria-label={`Download ${what} as NDJSON`} onClick={() => save("ndjson")}>
        NDJSON
      </button>
      {action.busy && (
        <span class="muted" role="status">
          Preparing…
        </span>
      )}
      <ErrorText error={action.error} />
    </div>
  );
}
