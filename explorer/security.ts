/**
 * Guards of the explorer's HTTP server against other web pages: a Host allow-list (DNS rebinding:
 * a page on evil.example whose name re-resolves to 127.0.0.1 sends `Host: evil.example`) and an
 * Origin check on state-changing requests (CSRF: a page on another origin POSTing an audit).
 */
import type { NextFunction, Request, Response } from "express";
import { hostAllowed, hostRefusal, splitHost } from "../ipfs/rpc-server.ts";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export interface GuardRefusal {
  error: "host-not-allowed" | "cross-origin";
  message: string;
}

/** Why this request's Host header is refused, or null when it names this server. */
export function checkHost(req: Request, allowedHosts: readonly string[]): GuardRefusal | null {
  if (hostAllowed(req.headers.host, req.socket, allowedHosts)) return null;
  return { error: "host-not-allowed", message: hostRefusal("this explorer", req.headers.host, req.socket, allowedHosts, "--allowed-host") };
}

/**
 * Why a state-changing request from another origin is refused, or null. Browsers send Origin on
 * every POST; it must name an allowed host. Without Origin (curl, scripts) a browser's
 * Sec-Fetch-Site, when present, must say same-origin.
 */
export function checkOrigin(req: Request, allowedHosts: readonly string[]): GuardRefusal | null {
  if (SAFE_METHODS.has(req.method)) return null;
  const origin = req.headers.origin;
  if (origin === undefined) {
    const site = req.headers["sec-fetch-site"];
    if (site === undefined || site === "same-origin" || site === "none") return null;
    return { error: "cross-origin", message: `${req.method} ${req.path} refused: the request comes from another site (Sec-Fetch-Site: ${site})` };
  }
  const host = originHost(origin);
  if (host !== null && hostAllowed(host, req.socket, allowedHosts)) return null;
  return {
    error: "cross-origin",
    message: `${req.method} ${req.path} refused: Origin "${origin}" is not this explorer (a guard against cross-site requests); ` +
      "start the explorer with --allowed-host NAME[:PORT] if that origin serves it",
  };
}

/** "http://name:port" -> "name:port" (default ports made explicit); null for "null" and non-HTTP origins. */
function originHost(origin: string): string | null {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  const host = `${url.hostname}:${port}`;
  return splitHost(host) ? host : null;
}

/** Express middleware running both checks; refusals answer 403 (JSON under /api, plain text elsewhere). */
export function requestGuard(allowedHosts: readonly string[]) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const refusal = checkHost(req, allowedHosts) ?? checkOrigin(req, allowedHosts);
    if (!refusal) return next();
    if (req.path.startsWith("/api")) res.status(403).type("application/json").send(JSON.stringify(refusal));
    else res.status(403).type("text/plain").send(`403 - Forbidden: ${refusal.message}\n`);
  };
}
