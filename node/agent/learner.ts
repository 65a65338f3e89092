// Moved to node/ml/learner.ts; kept until node/agent/main.ts imports it from there.
export { createLearner } from "../ml/learner.ts";
