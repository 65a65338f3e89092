// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IFederatedTask — the on-chain half of peerfl's round protocol
/// @notice One deployed contract per federated-learning task. It keeps the task's configuration,
/// the peer registry, every round's commits, verdicts and aggregate submissions, and peer
/// reputation. Model bytes never touch the chain: only their CIDs (binary CID bytes; CIDv0 or
/// CIDv1 with codec raw 0x55 or dag-pb 0x70 and a sha2-256 multihash) are stored and emitted.
/// @dev This interface is the ABI contract between the Solidity side and every TypeScript client
/// (agents, demo, explorer, audit). Change it only together with those clients.
interface IFederatedTask {
    // ------------------------------------------------------------------ types

    /// @notice Robust rule applied by verifiers (and aggregators) to a round's updates.
    /// 0 none (FedAvg of all), 1 Krum, 2 Multi-Krum, 3 coordinate-wise median,
    /// 4 trimmed mean, 5 centered clipping. `ruleParam` is Krum's f, the trim count, or the
    /// clipping radius in milli-units, depending on the rule.
    struct TaskConfig {
        bytes modelSpecCid;          // CID of the JSON model spec (architecture, layer shapes)
        bytes initialModelCid;       // CID of round 1's global weights (canonical codec bytes)
        uint32 rounds;               // number of rounds; the task completes after this many
        uint32 trainingDuration;     // seconds the training window stays open
        uint32 verificationDuration; // seconds the verification window stays open
        uint32 aggregationDuration;  // seconds the aggregation window stays open
        uint16 minTrainers;          // fewer commits than this when training closes -> round fails
        uint16 aggregatorQuorum;     // identical aggregate submissions needed to finalize
        uint8 robustRule;            // see above
        uint16 ruleParam;            // see above
        uint32 dpClipNormMilli;      // DP clip norm C * 1000 (0 = DP off)
        uint32 dpNoiseMultiplierMilli; // DP noise multiplier sigma * 1000
        uint32 dpDeltaExponent;      // delta = 10^-dpDeltaExponent (e.g. 5 -> 1e-5)
        uint32 dpEpsilonBudgetMilli; // epsilon budget * 1000 (0 = no budget)
        int32 reputationInitial;     // score a peer starts with
        int32 reputationReward;      // added when a peer's update is accepted
        int32 reputationPenalty;     // subtracted when a peer's update is rejected
        int32 reputationThreshold;   // a trainer whose score is below this may not commit
        int32 reputationMax;         // scores are capped here
    }

    /// @notice Phase of a round. Rounds are numbered from 1.
    enum Phase { None, Training, Verification, Aggregation, Finalized, Failed }

    // ------------------------------------------------------------------ events

    /// @notice The task's configuration was set (once) by the initiator.
    event TaskConfigured(address indexed initiator, TaskConfig config);
    /// @notice The task was started; round 1 follows in the same transaction.
    event TaskStarted(uint32 rounds);
    /// @notice All configured rounds are over.
    event TaskCompleted(uint32 lastRound, bytes globalModelCid);

    /// @notice A peer registered (or re-registered after leaving) with roles (bit 0 trainer,
    /// bit 1 verifier, bit 2 aggregator), its libp2p multiaddr and a 32-byte public key.
    event PeerRegistered(address indexed peer, uint16 indexed peerIndex, uint8 roles, string multiaddr, bytes32 publicKey);
    /// @notice A registered peer changed its multiaddr (e.g. after a restart on a new port).
    event PeerAddressUpdated(address indexed peer, string multiaddr);
    /// @notice The initiator revoked some of a peer's roles.
    event PeerRolesRevoked(address indexed peer, uint8 revokedRoles, uint8 remainingRoles);
    /// @notice A peer left the task.
    event PeerLeft(address indexed peer);

    /// @notice Round `round` opened its training window on `globalModelCid`.
    event RoundStarted(uint32 indexed round, bytes globalModelCid, uint64 trainingDeadline);
    /// @notice A trainer committed an update; `commitIndex` is its bit in verdict masks.
    event UpdateCommitted(uint32 indexed round, address indexed trainer, uint8 commitIndex, bytes cid, uint32 numSamples);
    /// @notice The round moved to `phase`; `deadline` is the new window's end (0 if none).
    event PhaseAdvanced(uint32 indexed round, Phase phase, uint64 deadline);
    /// @notice A verifier submitted its verdict over the round's commits (bit i = commit i accepted).
    event VerdictSubmitted(uint32 indexed round, address indexed verifier, uint256 acceptedMask);
    /// @notice The majority-accepted mask of the round was fixed (computed from all verdicts).
    event AcceptedMaskComputed(uint32 indexed round, uint256 acceptedMask, uint16 verdictCount);
    /// @notice An aggregator submitted a FedAvg result; `agreesWithLeader` is false when its CID
    /// differs from the CID with the most submissions so far (recorded, never silently dropped).
    event AggregateSubmitted(uint32 indexed round, address indexed aggregator, bytes cid, uint16 accuracyBps, uint32 cumulativeEpsilonMilli, bool agreesWithLeader);
    /// @notice The round was finalized: a quorum of aggregators agreed on `globalModelCid`.
    event RoundFinalized(uint32 indexed round, bytes globalModelCid, uint256 acceptedMask, uint16 accuracyBps, uint32 cumulativeEpsilonMilli);
    /// @notice The round failed (`reason`: 1 too few trainers, 2 no verdicts or nothing accepted,
    /// 3 no aggregator quorum by the deadline); the next round restarts from the last global model.
    event RoundFailed(uint32 indexed round, uint8 reason);
    /// @notice A peer's reputation changed at finalization of `round`.
    event ReputationChanged(address indexed peer, uint32 indexed round, int32 oldScore, int32 newScore, bool accepted);
    /// @notice A peer's score fell below the threshold: it may no longer commit updates.
    event PeerExcluded(address indexed peer, uint32 indexed round, int32 score);

    // ------------------------------------------------------------------ errors

    error TaskAlreadyConfigured();
    error TaskNotConfigured();
    error TaskAlreadyStarted();
    error TaskNotStarted();
    error TaskIsCompleted();
    error InvalidConfig(string field);
    error InvalidCid(bytes cid);
    error ZeroCid();
    error NotRegistered(address peer);
    error AlreadyRegistered(address peer);
    error InvalidRoles(uint8 roles);
    error MissingRole(address peer, uint8 role);
    error TooManyPeers(uint256 max);
    error WrongRound(uint32 given, uint32 current);
    error WrongPhase(uint32 round, Phase expected, Phase actual);
    error DeadlinePassed(uint32 round, uint64 deadline, uint64 nowTs);
    error DeadlineNotReached(uint32 round, uint64 deadline, uint64 nowTs);
    error AlreadyCommitted(uint32 round, address trainer);
    error AlreadyVoted(uint32 round, address verifier);
    error AlreadySubmitted(uint32 round, address aggregator);
    error ZeroSamples();
    error RoundFull(uint32 round, uint256 maxCommits);
    error MaskOutOfRange(uint256 mask, uint8 commitCount);
    error ReputationTooLow(address peer, int32 score, int32 threshold);
    error AccuracyOutOfRange(uint16 accuracyBps);
    error RoundDoesNotExist(uint32 round);

    // ------------------------------------------------------------------ task

    /// @notice Set the task configuration. Initiator only, once.
    function configureTask(TaskConfig calldata config) external;
    /// @notice Start round 1 on the initial model. Initiator only, once, after configuration.
    function startTask() external;
    function taskConfig() external view returns (TaskConfig memory);
    function taskStarted() external view returns (bool);
    function taskCompleted() external view returns (bool);
    /// @notice The current round number (0 before the task starts).
    function currentRound() external view returns (uint32);
    /// @notice CID of the latest finalized global model (the initial model before any finalization).
    function latestGlobalModelCid() external view returns (bytes memory);

    // ------------------------------------------------------------------ registry

    /// @notice Register the caller with `roles` (non-zero subset of 0b111), multiaddr and public key.
    function registerPeer(uint8 roles, string calldata multiaddr, bytes32 publicKey) external;
    /// @notice Update the caller's multiaddr.
    function updateMultiaddr(string calldata multiaddr) external;
    /// @notice Initiator revokes roles of `peer`.
    function revokeRoles(address peer, uint8 roles) external;
    /// @notice The caller leaves the task.
    function leave() external;
    function peerCount() external view returns (uint256);
    function peerAt(uint256 index) external view returns (address);
    /// @notice Everything known about a peer.
    function getPeer(address peer) external view returns (
        uint16 peerIndex, uint8 roles, bool active, int32 reputation, string memory multiaddr, bytes32 publicKey
    );

    // ------------------------------------------------------------------ rounds

    /// @notice Commit a trainer's update for `round` (training window, once per trainer).
    function commitUpdate(uint32 round, bytes calldata cid, uint32 numSamples) external;
    /// @notice Submit a verifier's verdict over the round's commits (verification window, once).
    function submitVerdict(uint32 round, uint256 acceptedMask) external;
    /// @notice Submit an aggregate (aggregation window, once per aggregator); finalizes the
    /// round when `aggregatorQuorum` submissions carry the same CID and epsilon.
    function submitAggregate(uint32 round, bytes calldata cid, uint16 accuracyBps, uint32 cumulativeEpsilonMilli) external;
    /// @notice Anyone: move `round` past a phase whose deadline has passed (or whose
    /// participants have all acted). Fails or finalizes the round as the rules say.
    function advancePhase(uint32 round) external;

    /// @notice A round's summary.
    function getRound(uint32 round) external view returns (
        Phase phase, uint64 phaseDeadline, bytes memory globalModelCid, uint8 commitCount,
        uint16 verdictCount, uint16 aggregateCount, uint256 acceptedMask, bytes memory finalCid,
        uint16 accuracyBps, uint32 cumulativeEpsilonMilli
    );
    /// @notice The i-th commit of a round.
    function getCommit(uint32 round, uint8 index) external view returns (address trainer, bytes memory cid, uint32 numSamples);
    /// @notice Commit index + 1 of `trainer` in `round`, 0 when it has not committed.
    function commitIndexOf(uint32 round, address trainer) external view returns (uint8);
    /// @notice The verdict a verifier submitted (voted = false when none).
    function getVerdict(uint32 round, address verifier) external view returns (bool voted, uint256 acceptedMask);
    /// @notice The aggregate an aggregator submitted (submitted = false when none).
    function getAggregate(uint32 round, address aggregator) external view returns (bool submitted, bytes memory cid, uint16 accuracyBps, uint32 cumulativeEpsilonMilli);
}
