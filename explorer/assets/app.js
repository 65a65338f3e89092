// peerfl explorer: small progressive enhancements (audit button). No framework, no CDN.
(function () {
  "use strict";
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const cid = (c) => (c ? `<a class="mono" href="/cid/${esc(c)}">${esc(c)}</a>` : '<span class="muted">—</span>');

  // Each revealed verdict mask against the recomputed one (non-revealers have no mask to compare).
  function verifiers(list) {
    if (list.length === 0) return "";
    const rows = list.map((v) => `<tr><td><a class="mono" href="/address/${esc(v.verifier)}">${esc(v.verifier)}</a></td><td class="mono">${esc(v.acceptedMask)}</td><td>${
      v.matchesRecomputed ? '<span class="badge ok">= recomputed</span>' : '<span class="badge bad">≠ recomputed</span>'}</td></tr>`).join("");
    return `<table class="list" id="audit-verifiers"><thead><tr><th>Verifier</th><th>Revealed mask</th><th>vs recomputed verdict</th></tr></thead><tbody>${rows}</tbody></table>`;
  }

  function renderAudit(r) {
    const rows = `<table class="kv">
      <tr><th>Rule</th><td>${esc(r.rule)}</td></tr>
      <tr><th>Accepted mask on chain</th><td class="mono">${esc(r.acceptedMaskOnChain)}</td></tr>
      <tr><th>Accepted mask recomputed</th><td class="mono">${esc(r.acceptedMaskRecomputed ?? "—")}</td></tr>
      <tr><th>Global CID on chain</th><td>${cid(r.globalCidOnChain)}</td></tr>
      <tr><th>Global CID recomputed</th><td>${cid(r.globalCidRecomputed)}</td></tr>
    </table>${verifiers(r.verifiers || [])}`;
    if (r.ok) {
      return `<div class="result ok" id="audit-ok"><div class="headline">✓ Round ${r.round} reproduces</div>
        <p>The recomputed verdict equals the on-chain majority mask and the recomputed aggregate has exactly the finalized CID.</p>${rows}</div>`;
    }
    const diffs = r.differences.map((d) => `<li>${esc(d)}</li>`).join("");
    return `<div class="result bad" id="audit-failed"><div class="headline">✗ Round ${r.round} does not reproduce</div><ul>${diffs}</ul>${rows}</div>`;
  }

  const button = document.getElementById("audit-button");
  if (button) {
    button.addEventListener("click", async () => {
      const out = document.getElementById("audit-result");
      button.disabled = true;
      const label = button.textContent;
      button.textContent = "Auditing…";
      out.innerHTML = '<p class="muted">Fetching every update from IPFS and recomputing…</p>';
      try {
        const res = await fetch(`/api/rounds/${button.dataset.round}/audit`, { method: "POST" });
        const body = await res.json();
        out.innerHTML = res.ok ? renderAudit(body) : `<div class="result bad"><div class="headline">Audit could not run</div><p>${esc(body.message)}</p></div>`;
      } catch (e) {
        out.innerHTML = `<div class="result bad"><div class="headline">Audit request failed</div><p>${esc(e.message)}</p></div>`;
      } finally {
        button.disabled = false;
        button.textContent = label;
      }
    });
  }
})();
