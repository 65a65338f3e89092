/**
 * Binds the 5G link emulation (node/links) to one agent: the scenario from a JSON file or the
 * deterministic default for N peers, an optional forced mode, the relay forwarder ports the demo
 * fixes (base + peer index), and a stats file refreshed while the agent runs.
 */
import { createLinkLayer, type LinkLayer, type LinkMode } from "../links/layer.ts";
import { defaultScenario, loadScenario } from "../links/scenario.ts";

export async function linkLayerForAgent(o: {
  scenarioFile?: string;
  forcedMode?: "auto" | "direct" | "relay" | "infrastructure";
  numPeers: number;
  selfIndex: number;
  relayBasePort: number;
  statsFile?: string;
}): Promise<LinkLayer> {
  const scenario = o.scenarioFile ? await loadScenario(o.scenarioFile) : defaultScenario(o.numPeers);
  if (o.forcedMode && o.forcedMode !== "auto") scenario.forcedMode = o.forcedMode as LinkMode;
  const layer = await createLinkLayer({ scenario, selfIndex: o.selfIndex, relayPortFor: (i) => o.relayBasePort + i });
  if (o.statsFile) {
    const file = o.statsFile;
    const timer = setInterval(() => { void layer.writeStats(file).catch(() => undefined); }, 2000);
    timer.unref();
    const close = layer.close.bind(layer);
    let closing: Promise<void> | undefined;
    // Close once: a second close (normal exit, then SIGTERM) must not overwrite the stats with nothing.
    layer.close = () => (closing ??= (async () => {
      clearInterval(timer);
      await layer.writeStats(file).catch(() => undefined);
      await close();
    })());
  }
  return layer;
}
