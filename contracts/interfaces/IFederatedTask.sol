// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IFederatedTask — the on-chain half of peerfl's round protocol
/// @notice One deployed contract per federated-learning task. It keeps the task's configuration,
/// the admitted peers and their bonds, every round's commits, committees, committed and revealed
/// verdicts and aggregates, challenges, and peer reputation. Model bytes never touch the chain:
/// only their CIDs (binary CID bytes; CIDv0 or CIDv1 with codec raw 0x55 or dag-pb 0x70 and a
/// sha2-256 multihash) are stored and emitted. The call sequence per role is in docs/protocol.md.
/// @dev This interface is the ABI contract between the Solidity side and every TypeScript client
/// (agents, demo, explorer, audit). Change it only together with those clients.
interface IFederatedTask {
    // ------------------------------------------------------------------ types

    /// @notice Robust rule applied by verifiers (and aggregators) to a round's updates.
    /// 0 none (FedAvg of all), 1 Krum, 2 Multi-Krum, 3 coordinate-wise median,
    /// 4 trimmed mean, 5 centered clipping, 6 FLAME, 7 validation vote. `ruleParam` is Krum's f, the trim count, the
    /// clipping radius in milli-units, or the validation vote threshold in thousandths, depending on the rule.
    struct TaskConfig {
        bytes modelSpecCid;          // CID of the JSON model spec (architecture, layer shapes)
        bytes initialModelCid;       // CID of round 1's global weights (canonical codec bytes)
        uint32 rounds;               // number of rounds; the task completes after this many
        uint32 trainingDuration;     // seconds the training window stays open
        uint32 verificationDuration; // seconds the verdict COMMIT window stays open
        uint32 aggregationDuration;  // seconds the aggregate COMMIT window stays open
        uint32 revealDuration;       // seconds each reveal window (verdicts, aggregates) stays open
        uint32 challengeDuration;    // seconds after finalization during which a round can be challenged
        uint16 minTrainers;          // fewer commits than this when training closes -> round fails
        uint16 verifierCommitteeSize;   // verifiers drawn per round (0 = every eligible verifier)
        uint16 aggregatorCommitteeSize; // aggregators drawn per round (0 = every eligible aggregator)
        uint16 aggregatorQuorumBps;  // share of the aggregator committee that must reveal one CID (bps, e.g. 6667)
        uint8 robustRule;            // see above
        uint16 ruleParam;            // see above
        uint8 admissionMode;         // 0 = allow-list (initiator admits), 1 = ETH bond
        uint96 bondWei;              // bond mode: minimum peer bond and exact challenge bond (wei)
        uint32 maxSamplesPerPeer;    // commitUpdate reverts above this numSamples
        uint16 copyCosineThresholdBps;  // off-chain: verifiers reject an update whose cosine similarity to another is >= this (bps)
        uint32 sampleWeightClipMilli;   // off-chain: FedAvg weight clipped at c x median(numSamples), c * 1000
        uint32 dpClipNormMilli;      // DP clip norm C * 1000 (0 = DP off)
        uint32 dpNoiseMultiplierMilli; // DP noise multiplier sigma * 1000
        uint32 dpDeltaExponent;      // delta = 10^-dpDeltaExponent (e.g. 5 -> 1e-5)
        uint32 dpEpsilonBudgetMilli; // epsilon budget * 1000 (0 = no budget)
        int32 reputationInitial;     // score a peer starts with
        int32 reputationReward;      // added for an accepted update / an agreeing verdict or aggregate
        int32 reputationPenalty;     // subtracted for a rejected update / a disagreeing or missing verdict or aggregate
        int32 reputationThreshold;   // a peer whose score falls below this is excluded (banned) for good
        int32 reputationMax;         // scores are capped here
    }

    /// @notice Phase of a round. Rounds are numbered from 1.
    enum Phase { None, Training, VerifyCommit, VerifyReveal, AggregateCommit, AggregateReveal, Finalized, Failed }

    // ------------------------------------------------------------------ events

    /// @notice The task's configuration was set (once) by the initiator.
    event TaskConfigured(address indexed initiator, TaskConfig config);
    /// @notice The task was started; round 1 follows in the same transaction.
    event TaskStarted(uint32 rounds);
    /// @notice All configured rounds are over.
    event TaskCompleted(uint32 lastRound, bytes globalModelCid);

    /// @notice Allow-list mode: the initiator admitted `peer` (it may now call registerPeer).
    event PeerAdmitted(address indexed peer);
    /// @notice A peer registered (or re-registered after leaving) with roles (bit 0 trainer,
    /// bit 1 verifier, bit 2 aggregator), its libp2p multiaddr and a 32-byte public key.
    event PeerRegistered(address indexed peer, uint16 indexed peerIndex, uint8 roles, string multiaddr, bytes32 publicKey);
    /// @notice A registered peer changed its multiaddr (e.g. after a restart on a new port).
    event PeerAddressUpdated(address indexed peer, string multiaddr);
    /// @notice The initiator revoked some of a peer's roles (for good: registerPeer refuses them later).
    event PeerRolesRevoked(address indexed peer, uint8 revokedRoles, uint8 remainingRoles);
    /// @notice A peer left the task.
    event PeerLeft(address indexed peer);
    /// @notice A peer was banned for good (`reason`: 0 by the initiator, 1 reputation below the
    /// threshold, 2 slashed by an upheld challenge). It may never register again.
    event PeerBanned(address indexed peer, uint8 reason);
    /// @notice Bond mode: `peer` posted `amount` wei of bond (held until the task ends).
    event BondPosted(address indexed peer, uint256 amount);
    /// @notice `peer`'s bond of `amount` wei was paid back (task over, challenge windows closed).
    event BondRefunded(address indexed peer, uint256 amount);
    /// @notice `peer` lost `amount` wei of bond in `round`; the amount is credited to `beneficiary`.
    event BondSlashed(address indexed peer, uint32 indexed round, uint256 amount, address beneficiary);
    /// @notice `account` withdrew `amount` wei of credited payouts ({claim}).
    event PayoutClaimed(address indexed account, uint256 amount);

    /// @notice Round `round` opened its training window on `globalModelCid`.
    event RoundStarted(uint32 indexed round, bytes globalModelCid, uint64 trainingDeadline);
    /// @notice A trainer committed an update; `commitIndex` is its bit in verdict masks.
    event UpdateCommitted(uint32 indexed round, address indexed trainer, uint8 commitIndex, bytes cid, uint32 numSamples);
    /// @notice The round moved to `phase`; `deadline` is the new window's end.
    event PhaseAdvanced(uint32 indexed round, Phase phase, uint64 deadline);
    /// @notice Training closed: the committees of `round` will be drawn from the eligible pools
    /// below with the hash of block `seedBlock` (available from block seedBlock + 1 on).
    event CommitteeSeedFixed(uint32 indexed round, uint64 seedBlock, uint256 verifierPool, uint256 aggregatorPool);
    /// @notice The committees of `round` were drawn (bit i = peer index i is a member).
    event CommitteesSelected(uint32 indexed round, uint256 verifierCommittee, uint256 aggregatorCommittee, bytes32 seed);
    /// @notice A committee verifier committed to a hidden verdict.
    event VerdictCommitted(uint32 indexed round, address indexed verifier, bytes32 commitment);
    /// @notice A committee verifier revealed its verdict (bit i = commit i accepted).
    event VerdictRevealed(uint32 indexed round, address indexed verifier, uint256 acceptedMask);
    /// @notice Verification closed: `acceptedMask` (accepted by > 1/2 of the committee) and
    /// `rejectedMask` (rejected by > 1/2 of the committee); `revealCount` verdicts were revealed.
    event AcceptedMaskComputed(uint32 indexed round, uint256 acceptedMask, uint256 rejectedMask, uint16 revealCount);
    /// @notice A committee aggregator committed to a hidden aggregate.
    event AggregateCommitted(uint32 indexed round, address indexed aggregator, bytes32 commitment);
    /// @notice A committee aggregator revealed its aggregate; `agreesWithLeader` is false when its
    /// (CID, epsilon) differs from the one with the most reveals so far.
    event AggregateRevealed(uint32 indexed round, address indexed aggregator, bytes cid, uint16 accuracyBps, uint32 cumulativeEpsilonMilli, bool agreesWithLeader);
    /// @notice The round was finalized: a quorum share of the aggregator committee revealed `globalModelCid`.
    event RoundFinalized(uint32 indexed round, bytes globalModelCid, uint256 acceptedMask, uint16 accuracyBps, uint32 cumulativeEpsilonMilli);
    /// @notice The round failed (`reason`: 1 too few trainers, 2 no verdicts or nothing accepted,
    /// 3 no aggregator quorum); the next round restarts from the last global model.
    event RoundFailed(uint32 indexed round, uint8 reason);
    /// @notice A peer's reputation changed in `round`. `reason`: 0 update accepted, 1 update
    /// rejected, 2 verdict agreed, 3 verdict disagreed, 4 verdict missing, 5 aggregate agreed,
    /// 6 aggregate disagreed, 7 aggregate missing, 8 aggregate proven wrong by a challenge.
    event ReputationChanged(address indexed peer, uint32 indexed round, int32 oldScore, int32 newScore, uint8 reason);
    /// @notice A peer's score fell below the threshold: it is banned (see {PeerBanned}).
    event PeerExcluded(address indexed peer, uint32 indexed round, int32 score);
    /// @notice `challenger` disputed the finalized aggregate of `round` (challenge `id`, `bond` wei held).
    event ChallengeRaised(uint256 indexed id, uint32 indexed round, address indexed challenger, uint256 bond);
    /// @notice The initiator settled challenge `id`: `upheld` (aggregators slashed for `slashed`
    /// wei in total, challenge bond refunded) or rejected (challenge bond forfeited to the final aggregator).
    event ChallengeSettled(uint256 indexed id, uint32 indexed round, bool upheld, uint256 slashed);

    // ------------------------------------------------------------------ errors

    error TaskAlreadyConfigured();
    error TaskNotConfigured();
    error TaskAlreadyStarted();
    error TaskNotStarted();
    error TaskIsCompleted();
    error TaskNotOver();
    error InvalidConfig(string field);
    error InvalidCid(bytes cid);
    error ZeroCid();
    error NotRegistered(address peer);
    error AlreadyRegistered(address peer);
    error InvalidRoles(uint8 roles);
    error MissingRole(address peer, uint8 role);
    error TooManyPeers(uint256 max);
    error NotAdmitted(address peer);
    error PeerIsBanned(address peer);
    error RolesWereRevoked(address peer, uint8 roles);
    error BondTooLow(uint256 bond, uint256 required);
    error UnexpectedPayment(uint256 value);
    error NothingToWithdraw(address account);
    error WrongRound(uint32 given, uint32 current);
    error WrongPhase(uint32 round, Phase expected, Phase actual);
    error DeadlinePassed(uint32 round, uint64 deadline, uint64 nowTs);
    error DeadlineNotReached(uint32 round, uint64 deadline, uint64 nowTs);
    error AlreadyCommitted(uint32 round, address peer);
    error AlreadyRevealed(uint32 round, address peer);
    error NotCommitted(uint32 round, address peer);
    error RevealMismatch(uint32 round, address peer, bytes32 commitment, bytes32 computed);
    error ZeroCommitment();
    error DuplicateUpdate(uint32 round, bytes32 digest, uint8 commitIndex);
    error ZeroSamples();
    error TooManySamples(uint32 numSamples, uint32 maxSamples);
    error RoundFull(uint32 round, uint256 maxCommits);
    error MaskOutOfRange(uint256 mask, uint8 commitCount);
    error ReputationTooLow(address peer, int32 score, int32 threshold);
    error NotInCommittee(uint32 round, address peer, uint8 role);
    error CommitteeSeedUnavailable(uint32 round, uint64 seedBlock, uint64 blockNumber);
    error CommitteesAlreadySelected(uint32 round);
    error AccuracyOutOfRange(uint16 accuracyBps);
    error RoundDoesNotExist(uint32 round);
    error NotChallengeable(uint32 round, Phase phase, uint64 challengeDeadline);
    error WrongChallengeBond(uint256 sent, uint256 required);
    error ChallengeNotOpen(uint256 id);

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

    // ------------------------------------------------------------------ admission and registry

    /// @notice Allow-list mode: the initiator admits `accounts` (they may then register).
    function admit(address[] calldata accounts) external;
    /// @notice Register the caller with `roles` (non-zero subset of 0b111), multiaddr and public key.
    /// Bond mode: send at least `bondWei` with the first registration.
    function registerPeer(uint8 roles, string calldata multiaddr, bytes32 publicKey) external payable;
    /// @notice Update the caller's multiaddr.
    function updateMultiaddr(string calldata multiaddr) external;
    /// @notice Initiator revokes roles of `peer`, for good.
    function revokeRoles(address peer, uint8 roles) external;
    /// @notice Initiator bans `peer` for good (it stops acting and can never register again).
    function banPeer(address peer) external;
    /// @notice The caller leaves the task (its bond stays held until the task is over).
    function leave() external;
    /// @notice Bond mode: pay the caller's bond back once the task is over and no challenge can change it.
    function withdrawBond() external;
    /// @notice Withdraw payouts credited to the caller (slashed bonds won by challenges, refunded challenge bonds).
    function claim() external;
    function peerCount() external view returns (uint256);
    function peerAt(uint256 index) external view returns (address);
    /// @notice Everything known about a peer.
    function getPeer(address peer) external view returns (
        uint16 peerIndex, uint8 roles, bool active, int32 reputation, string memory multiaddr, bytes32 publicKey
    );
    /// @notice Admission state of any address (registered or not).
    function peerStatus(address account) external view returns (
        bool admitted, bool registered, bool banned, uint8 revokedRoles, uint256 bond, uint256 claimable
    );

    // ------------------------------------------------------------------ rounds

    /// @notice Commit a trainer's update for `round` (training window, once per trainer).
    function commitUpdate(uint32 round, bytes calldata cid, uint32 numSamples) external;
    /// @notice Draw the committees of `round` (anyone; the first commit of a verdict or aggregate
    /// does it too). Reverts while the seed block's hash is not available yet.
    function selectCommittees(uint32 round) external;
    /// @notice Committee verifier: commit to keccak256(abi.encode(address(this), round, msg.sender, mask, salt)).
    function commitVerdict(uint32 round, bytes32 commitment) external;
    /// @notice Committee verifier: reveal the verdict committed to.
    function revealVerdict(uint32 round, uint256 acceptedMask, bytes32 salt) external;
    /// @notice Committee aggregator: commit to keccak256(abi.encode(address(this), round, msg.sender,
    /// cid, accuracyBps, cumulativeEpsilonMilli, salt)).
    function commitAggregate(uint32 round, bytes32 commitment) external;
    /// @notice Committee aggregator: reveal the aggregate committed to.
    function revealAggregate(uint32 round, bytes calldata cid, uint16 accuracyBps, uint32 cumulativeEpsilonMilli, bytes32 salt) external;
    /// @notice Anyone: move `round` past a phase whose deadline has passed (or whose
    /// participants have all acted). Fails or finalizes the round as the rules say.
    function advancePhase(uint32 round) external;
    /// @notice Anyone, within the challenge window of a finalized round: dispute its aggregate.
    /// Bond mode: send exactly `bondWei`.
    function challenge(uint32 round) external payable returns (uint256 id);
    /// @notice Initiator: settle challenge `id` after recomputing the aggregate off-chain.
    function settleChallenge(uint256 id, bool upheld) external;

    /// @notice A round's summary. `phaseDeadline` of a finalized round is its challenge deadline.
    function getRound(uint32 round) external view returns (
        Phase phase, uint64 phaseDeadline, bytes memory globalModelCid, uint8 commitCount,
        uint16 verdictCount, uint16 aggregateCount, uint256 acceptedMask, bytes memory finalCid,
        uint16 accuracyBps, uint32 cumulativeEpsilonMilli
    );
    /// @notice The committees of a round: stored once drawn, else computed from the seed when
    /// it is available (`selected` false, masks 0 when it is not).
    function getCommittees(uint32 round) external view returns (
        bool selected, uint64 seedBlock, uint256 verifierCommittee, uint256 aggregatorCommittee
    );
    /// @notice Whether `account` is in the verifier committee of `round` (see {getCommittees}).
    function isVerifier(uint32 round, address account) external view returns (bool);
    /// @notice Whether `account` is in the aggregator committee of `round` (see {getCommittees}).
    function isAggregator(uint32 round, address account) external view returns (bool);
    /// @notice The i-th commit of a round.
    function getCommit(uint32 round, uint8 index) external view returns (address trainer, bytes memory cid, uint32 numSamples);
    /// @notice Commit index + 1 of `trainer` in `round`, 0 when it has not committed.
    function commitIndexOf(uint32 round, address trainer) external view returns (uint8);
    /// @notice A verifier's verdict: whether it committed, revealed, and the revealed mask.
    function getVerdict(uint32 round, address verifier) external view returns (bool committed, bool revealed, uint256 acceptedMask);
    /// @notice An aggregator's revealed aggregate (`revealed` false when none; `committed` whether it committed).
    function getAggregate(uint32 round, address aggregator) external view returns (
        bool committed, bool revealed, bytes memory cid, uint16 accuracyBps, uint32 cumulativeEpsilonMilli
    );
    /// @notice The commitment a verifier must send: keccak256(abi.encode(address(this), round, verifier, mask, salt)).
    function verdictCommitment(uint32 round, address verifier, uint256 acceptedMask, bytes32 salt) external view returns (bytes32);
    /// @notice The commitment an aggregator must send (see {commitAggregate}).
    function aggregateCommitment(
        uint32 round, address aggregator, bytes calldata cid, uint16 accuracyBps, uint32 cumulativeEpsilonMilli, bytes32 salt
    ) external view returns (bytes32);
}
