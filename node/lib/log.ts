/**
 * Structured logging: one line per event. `text` for people (`12:00:01 peer2 committed round=3 ...`),
 * `json` for machines (`{"t":"...","peer":"peer2","event":"committed","round":3,...}`).
 */
export type LogFormat = "text" | "json";
export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  child(name: string): Logger;
}

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function fmtValue(v: unknown): string {
  if (typeof v === "string") return /\s/.test(v) || v === "" ? JSON.stringify(v) : v;
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Error) return JSON.stringify(v.message);
  return JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x));
}

export function createLogger(opts: {
  name: string;
  format?: LogFormat;
  level?: LogLevel;
  write?: (line: string) => void;
}): Logger {
  const format = opts.format ?? "text";
  const min = order[opts.level ?? "info"];
  const write = opts.write ?? ((line: string) => process.stderr.write(line + "\n"));
  const emit = (level: LogLevel, event: string, fields: LogFields = {}) => {
    if (order[level] < min) return;
    const t = new Date();
    if (format === "json") {
      write(JSON.stringify({ t: t.toISOString(), level, peer: opts.name, event, ...fields },
        (_k, x) => (typeof x === "bigint" ? x.toString() : x instanceof Error ? x.message : x)));
    } else {
      const kv = Object.entries(fields).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${fmtValue(v)}`).join(" ");
      const tag = level === "info" ? "" : ` ${level.toUpperCase()}`;
      write(`${t.toISOString().slice(11, 23)} ${opts.name}${tag} ${event}${kv ? " " + kv : ""}`);
    }
  };
  return {
    debug: (e, f) => emit("debug", e, f),
    info: (e, f) => emit("info", e, f),
    warn: (e, f) => emit("warn", e, f),
    error: (e, f) => emit("error", e, f),
    child: (name) => createLogger({ ...opts, name: `${opts.name}/${name}` }),
  };
}
