import { RdpAccountant, computeRdp, rdpToEpsilon } from "../../node/privacy/accountant.ts";
const tfOrders = [1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5, ...Array.from({ length: 59 }, (_, i) => 5 + i), 128, 256, 512];
for (const [n, b, s, e, d] of [[60000, 150, 1.3, 15, 1e-5], [100000, 100, 1.0, 30, 1e-7], [100000000, 1024, 0.1, 10, 1e-7]]) {
  const steps = Math.ceil((e * n) / b);
  console.log(n, b, s, e, d, rdpToEpsilon(tfOrders, computeRdp(b / n, s, steps, tfOrders), d));
}
const old = [...Array.from({ length: 99 }, (_, i) => 1 + (i + 1) / 10), ...Array.from({ length: 52 }, (_, i) => 12 + i)];
for (const [s, e] of [[1.3, 15], [1.1, 60], [0.7, 45]]) {
  const steps = Math.ceil((e * 60000) / 256);
  console.log("tutorial", s, e, rdpToEpsilon(old, computeRdp(256 / 60000, s, steps, old), 1e-5, "mironov2017"), rdpToEpsilon(old, computeRdp(256 / 60000, s, steps, old), 1e-5));
}
console.log("abadi 1.26", RdpAccountant.epsilonAfter(10000, 4, 0.01, 1e-5), RdpAccountant.epsilonAfter(10000, 4, 0.01, 1e-5, {conversion: "mironov2017"}));
// TF example privacy: 1.2 epochs sigma 0.7, q 1e-2, delta 1e-5 -> 3.2392676
for (const steps of [120, 121]) console.log("ex", steps, RdpAccountant.epsilonAfter(steps, 0.7, 0.01, 1e-5), rdpToEpsilon(tfOrders, computeRdp(0.01, 0.7, steps, tfOrders), 1e-5));
