/** The page frame: header, navigation, search, status banners. */
import { html, type SafeHtml } from "../html.ts";
import type { ExplorerStatus } from "../service.ts";
import { shortHex } from "./format.ts";

export interface PageOptions {
  title: string;
  status: ExplorerStatus;
  body: SafeHtml;
  active?: string;
  scripts?: string[];
}

export function banners(status: ExplorerStatus): SafeHtml {
  const out: SafeHtml[] = [];
  if (!status.chain.reachable) {
    out.push(html`<div class="banner bad" id="banner-chain"><strong>chain unreachable</strong> — ${status.chain.rpcUrl} does not answer${
      status.chain.lastError ? html` (${status.chain.lastError})` : ""
    }. Showing the last indexed data (up to block ${status.index.indexedTo >= 0 ? status.index.indexedTo : "none"}).</div>`);
  } else if (status.contractAddress && !status.index.contractDeployed) {
    out.push(html`<div class="banner warn">No contract deployed at ${status.contractAddress} yet on this chain.</div>`);
  } else if (!status.contractAddress) {
    out.push(html`<div class="banner warn">No task contract configured (pass <code>--contract</code> or deploy with Ignition).</div>`);
  }
  if (!status.ipfs.reachable) {
    out.push(html`<div class="banner bad" id="banner-ipfs"><strong>IPFS unreachable</strong> — ${status.ipfs.mode}${
      status.ipfs.lastError ? html`: ${status.ipfs.lastError}` : ""
    }. Model contents may be unavailable.</div>`);
  }
  return html`${out}`;
}

const NAV: [string, string][] = [
  ["/", "Overview"],
  ["/rounds", "Rounds"],
  ["/peers", "Peers"],
  ["/privacy", "Privacy"],
  ["/clusters", "Clusters"],
  ["/blocks", "Blocks"],
  ["/live", "Live"],
];

export function page(o: PageOptions): string {
  const s = o.status;
  const chainInfo = s.chain.reachable
    ? html`chain ${s.chain.chainId ?? "?"} · head #${s.index.head ?? "?"}`
    : html`<span class="bad-text">chain offline</span>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} · peerfl explorer</title>
<link rel="stylesheet" href="/assets/style.css">
</head>
<body>
<header class="top">
  <a class="brand" href="/"><span class="logo">◆</span> peerfl <span class="muted">explorer</span></a>
  <nav>${NAV.map(([href, label]) => html`<a href="${href}" class="${o.active === href ? "active" : ""}">${label}</a>`)}</nav>
  <form class="search" action="/search" method="get" role="search">
    <input name="q" type="search" placeholder="block, tx hash, address, round N, CID" aria-label="search" required>
    <button type="submit">Search</button>
  </form>
</header>
<div class="statusline">${chainInfo} · task ${s.contractAddress ? html`<a class="mono" href="/address/${s.contractAddress}">${shortHex(s.contractAddress)}</a>` : "—"} · IPFS ${s.ipfs.mode}${
    s.ipfs.peerId ? html` <span class="mono muted" title="${s.ipfs.peerId}">${s.ipfs.peerId.slice(-8)}</span>` : ""
  }</div>
<div id="banners">${banners(s)}</div>
<main>
${o.body}
</main>
<footer>peerfl — decentralized federated learning, audited on chain · rpc <span class="mono">${s.chain.rpcUrl}</span></footer>
<script src="/assets/app.js"></script>
${(o.scripts ?? []).map((src) => html`<script src="${src}"></script>`)}
</body>
</html>`.value;
}

export function notFoundPage(status: ExplorerStatus, what: string, detail: string): string {
  return page({
    title: `${what} not found`,
    status,
    body: html`<section class="card notfound">
  <h1>404 — ${what} not found</h1>
  <p>${detail}</p>
  <p><a href="/">Back to the overview</a> or search again above.</p>
</section>`,
  });
}

export function errorPage(status: ExplorerStatus, title: string, detail: string): string {
  return page({
    title,
    status,
    body: html`<section class="card notfound"><h1>${title}</h1><p>${detail}</p><p><a href="/">Back to the overview</a></p></section>`,
  });
}
