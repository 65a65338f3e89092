/** Small formatting helpers shared by the pages. */
import { html, type SafeHtml } from "../html.ts";

export function shortHex(value: string, keep = 6): string {
  if (!value || value.length <= 2 + keep * 2) return value;
  return `${value.slice(0, 2 + keep)}…${value.slice(-keep + 2)}`;
}

export function shortCid(cid: string): string {
  return cid.length > 20 ? `${cid.slice(0, 10)}…${cid.slice(-8)}` : cid;
}

export function time(ts: number | null | undefined): string {
  if (!ts) return "—";
  return new Date(ts * 1000).toISOString().replace("T", " ").replace(".000Z", " UTC");
}

export function int(value: number | string | bigint | null | undefined): string {
  if (value === null || value === undefined || value === "") return "—";
  try {
    return BigInt(value).toLocaleString("en-US");
  } catch {
    return String(value);
  }
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "—";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

export function pct(bps: number | null | undefined): string {
  return bps === null || bps === undefined ? "—" : `${(bps / 100).toFixed(2)} %`;
}

export function eth(wei: string | null): string {
  if (wei === null) return "—";
  const v = BigInt(wei);
  const whole = v / 10n ** 18n;
  const frac = (v % 10n ** 18n).toString().padStart(18, "0").slice(0, 4);
  return `${whole.toLocaleString("en-US")}.${frac} ETH`;
}

export function num(value: number, digits = 4): string {
  if (!Number.isFinite(value)) return String(value);
  if (value !== 0 && (Math.abs(value) < 1e-3 || Math.abs(value) >= 1e6)) return value.toExponential(digits - 1);
  return value.toFixed(digits);
}

export function addressLink(address: string | null | undefined, label?: string): SafeHtml {
  if (!address) return html`<span class="muted">—</span>`;
  return html`<a class="mono" href="/address/${address}" title="${address}">${label ?? shortHex(address)}</a>`;
}

export function txLink(hash: string): SafeHtml {
  return html`<a class="mono" href="/tx/${hash}" title="${hash}">${shortHex(hash, 8)}</a>`;
}

export function blockLink(n: number | null | undefined): SafeHtml {
  return n === null || n === undefined ? html`—` : html`<a href="/block/${n}">#${n}</a>`;
}

export function cidLink(cid: string | null | undefined, full = false): SafeHtml {
  if (!cid) return html`<span class="muted">—</span>`;
  return html`<a class="mono" href="/cid/${cid}" title="${cid}">${full ? cid : shortCid(cid)}</a>`;
}

export function roundLink(r: number | null | undefined): SafeHtml {
  return r === null || r === undefined ? html`—` : html`<a href="/round/${r}">round ${r}</a>`;
}

export function badge(text: string, kind: "ok" | "bad" | "warn" | "info" | "muted" = "info"): SafeHtml {
  return html`<span class="badge ${kind}">${text}</span>`;
}

export function phaseBadge(phase: string): SafeHtml {
  const kind = phase === "Finalized" ? "ok" : phase === "Failed" ? "bad" : phase === "None" ? "muted" : "warn";
  return badge(phase, kind);
}

/** A JSON-ish value rendered compactly (decoded args). */
export function valueHtml(value: unknown, key = ""): SafeHtml {
  if (value === null || value === undefined) return html`<span class="muted">null</span>`;
  if (typeof value === "string") {
    if (/^0x[0-9a-fA-F]{40}$/.test(value)) return addressLink(value, value);
    if (/cid$/i.test(key) && value && !value.startsWith("0x")) return cidLink(value, true);
    return html`<span class="mono">${value}</span>`;
  }
  if (typeof value === "number" || typeof value === "boolean") return html`<span class="mono">${String(value)}</span>`;
  if (Array.isArray(value)) return html`[${value.map((v, i) => html`${i ? ", " : ""}${valueHtml(v)}`)}]`;
  return argsTable(value as Record<string, unknown>);
}

export function argsTable(args: Record<string, unknown> | null): SafeHtml {
  if (!args || Object.keys(args).length === 0) return html`<span class="muted">no arguments</span>`;
  return html`<table class="kv inner">${Object.entries(args).map(([k, v]) => html`<tr><th>${k}</th><td>${valueHtml(v, k)}</td></tr>`)}</table>`;
}
