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

  // Clustered task: each cluster head's record against its recomputation from the members' CIDs.
  function clusters(list) {
    if (!list || list.length === 0) return "";
    const badge = { ok: '<span class="badge ok">reproduces</span>', invalid: '<span class="badge bad">head lied: members judged alone</span>', missing: '<span class="badge warn">no record: members went flat</span>' };
    const challenge = (c) => !c.challengedBy ? "none" : `${c.challenge === "justified" ? '<span class="badge ok">justified</span>' : '<span class="badge warn">unjustified</span>'} by <span class="mono">${esc(c.challengedBy)}</span>`;
    const rows = list.map((c) => `<tr><td>peer${esc(c.head)}</td><td>${esc(c.members.join(", "))}${c.leftOut && c.leftOut.length ? ` <span class="badge warn">left out, judged alone: ${esc(c.leftOut.map((p) => `peer${p}`).join(", "))}</span>` : ""}</td><td>${badge[c.status] || esc(c.status)}${c.reason ? ` <span class="muted">${esc(c.reason)}</span>` : ""}</td><td>${cid(c.aggregateCidOnChain)}</td><td>${cid(c.aggregateCidRecomputed)}</td><td>${esc((c.checkers || []).map((p) => `peer${p}`).join(", ") || "—")}</td><td>${challenge(c)}</td></tr>`).join("");
    return `<table class="list" id="audit-clusters"><thead><tr><th>Head</th><th>Members</th><th>Cluster level</th><th>Aggregate on chain</th><th>Recomputed</th><th>Checkers (drawn)</th><th>Challenge</th></tr></thead><tbody>${rows}</tbody></table>`;
  }

  // Clustered task: the seed that drew each cluster's checkers after the record window.
  function checkSeed(r) {
    if (!r.clusters) return "";
    return `<table class="kv" id="audit-check-seed"><tr><th>Check seed</th><td class="mono">${esc(r.checkSeed ?? "not drawn")}${r.checkSeed ? ` (block ${esc(r.checkSeedBlock)})` : ""}</td></tr>${
      r.uncaughtLies && r.uncaughtLies.length ? `<tr><th>Lies nobody challenged</th><td><span class="badge bad">${esc(r.uncaughtLies.map((p) => `peer${p}`).join(", "))}</span></td></tr>` : ""}</table>`;
  }

  // Private round (secure aggregation): the unmasking transcript's summary. It never shows an
  // individual update: only counts, indices, share use, and the sum's CID below.
  function privateSum(p) {
    if (!p) return "";
    const secrets = p.secrets.map((s) => `<tr><td>peer ${esc(s.owner)}</td><td>${s.secret === "self" ? "self-mask seed (committed)" : "ephemeral key (dropped)"}</td><td>${esc(s.validShares)} valid of threshold ${esc(s.threshold)}</td><td>${esc(s.usedFrom.join(", "))}</td></tr>`).join("");
    const refused = p.refusedShares.length === 0 ? "" : `<ul id="audit-private-refused">${p.refusedShares.map((x) => `<li>share from peer ${esc(x.revealer)}${x.owner >= 0 ? ` for peer ${esc(x.owner)}` : ""} refused: ${esc(x.reason)}</li>`).join("")}</ul>`;
    return `<h3>Private round: recomputed from masked updates + revealed shares</h3>
      <table class="kv" id="audit-private"><tr><th>SecureAggregation</th><td class="mono">${esc(p.secagg)}</td></tr>
      <tr><th>Setups / reveals</th><td>${esc(p.setups)} / ${esc(p.reveals)}</td></tr>
      <tr><th>Commits in the sum</th><td>${esc(p.inSum.join(", ") || "none")}</td></tr>
      <tr><th>Σ numSamples</th><td>${esc(p.totalSamples ?? "—")}</td></tr></table>
      <table class="list" id="audit-private-secrets"><thead><tr><th>Owner</th><th>Secret reconstructed</th><th>Shares</th><th>From holders</th></tr></thead><tbody>${secrets}</tbody></table>${refused}`;
  }

  function renderAudit(r) {
    const rows = `<table class="kv">
      <tr><th>Rule</th><td>${esc(r.rule)}</td></tr>
      <tr><th>Accepted mask on chain</th><td class="mono">${esc(r.acceptedMaskOnChain)}</td></tr>
      <tr><th>Accepted mask recomputed</th><td class="mono">${esc(r.acceptedMaskRecomputed ?? "—")}</td></tr>
      <tr><th>Global CID on chain</th><td>${cid(r.globalCidOnChain)}</td></tr>
      <tr><th>Global CID recomputed</th><td>${cid(r.globalCidRecomputed)}</td></tr>
    </table>${privateSum(r.private)}${clusters(r.clusters)}${checkSeed(r)}${verifiers(r.verifiers || [])}`;
    if (r.ok) {
      const what = r.private
        ? "Every mask was removed with the revealed shares (each checked against its owner's commitment); the unmasked sum, applied to the round's global model, has exactly the finalized CID. No individual update was unmasked."
        : "The recomputed verdict equals the on-chain majority mask and the recomputed aggregate has exactly the finalized CID.";
      return `<div class="result ok" id="audit-ok"><div class="headline">✓ Round ${r.round} reproduces</div>
        <p>${what}</p>${rows}</div>`;
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
