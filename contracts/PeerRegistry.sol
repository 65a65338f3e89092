// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IFederatedTask} from "./interfaces/IFederatedTask.sol";

/// @title PeerRegistry — who takes part in the task, with which roles, and how many can act
/// @notice Peers register themselves with roles (bit 0 trainer, bit 1 verifier, bit 2
/// aggregator), a libp2p multiaddr and a 32-byte public key. The peer index is the registration
/// order and never changes: a peer that left and registers again keeps its index (and so its
/// reputation and its bit in per-peer bitmaps). At most {MAX_PEERS} peers, so an index fits in
/// one byte and a set of peers fits in one 256-bit word.
/// @dev The registry keeps live counts of eligible trainers (active, trainer role, not excluded)
/// and active verifiers; every change is reported to {_onEligibilityChanged} so the round logic
/// can keep its "who still has to act" counters exact without loops.
abstract contract PeerRegistry is IFederatedTask {
    /// @notice Most peers a task can hold.
    uint256 public constant MAX_PEERS = 256;
    uint8 internal constant ROLE_TRAINER = 1;
    uint8 internal constant ROLE_VERIFIER = 2;
    uint8 internal constant ROLE_AGGREGATOR = 4;
    uint8 internal constant ALL_ROLES = 7;

    /// @dev Bits of an eligibility set, as passed to {_onEligibilityChanged}.
    uint8 internal constant COUNTS_AS_TRAINER = 1;
    uint8 internal constant COUNTS_AS_VERIFIER = 2;

    struct Peer {
        // --- one slot, the only one read on the hot paths
        uint8 index;
        uint8 roles;
        bool registered;
        bool active;
        bool excluded; // reputation fell below the threshold: may no longer commit
        // --- separate slots
        bytes32 publicKey;
        string multiaddr;
    }

    struct Counts {
        uint16 eligibleTrainers;
        uint16 activeVerifiers;
    }

    mapping(address account => Peer) internal _peers;
    address[] internal _peerList;
    Counts internal _counts;

    /// @dev Called after a peer's eligibility set changed from `before` to `after_`
    /// ({COUNTS_AS_TRAINER} | {COUNTS_AS_VERIFIER}); the registry counts are already updated.
    function _onEligibilityChanged(Peer storage peer, uint8 before, uint8 after_) internal virtual;

    /// @dev Called once per peer, when it first registers and receives `index`.
    function _onPeerAdded(uint256 index) internal virtual;

    /// @inheritdoc IFederatedTask
    /// @dev Reverts with {InvalidRoles} unless `roles` is a non-zero subset of 0b111, with
    /// {AlreadyRegistered} while the caller is registered and active, and with {TooManyPeers}
    /// when {MAX_PEERS} distinct peers registered already. Registration is open before the task
    /// is configured (the peer then reads the initial reputation once it is set).
    function registerPeer(uint8 roles, string calldata multiaddr, bytes32 publicKey) external {
        if (roles == 0 || roles > ALL_ROLES) revert InvalidRoles(roles);
        Peer storage peer = _peers[msg.sender];
        if (peer.active) revert AlreadyRegistered(msg.sender);
        if (!peer.registered) {
            uint256 count = _peerList.length;
            if (count >= MAX_PEERS) revert TooManyPeers(MAX_PEERS);
            peer.index = uint8(count);
            peer.registered = true;
            _peerList.push(msg.sender);
            _onPeerAdded(count);
        }
        uint8 before = _eligibility(peer);
        peer.roles = roles;
        peer.active = true;
        peer.publicKey = publicKey;
        peer.multiaddr = multiaddr;
        _recount(peer, before);
        emit PeerRegistered(msg.sender, peer.index, roles, multiaddr, publicKey);
    }

    /// @inheritdoc IFederatedTask
    /// @dev Reverts with {NotRegistered} unless the caller is registered and active.
    function updateMultiaddr(string calldata multiaddr) external {
        Peer storage peer = _activePeer(msg.sender);
        peer.multiaddr = multiaddr;
        emit PeerAddressUpdated(msg.sender, multiaddr);
    }

    /// @inheritdoc IFederatedTask
    /// @dev Reverts with {NotRegistered} unless the caller is registered and active. The peer's
    /// commits, verdicts and aggregates stay on record; it stops counting as a participant.
    function leave() external {
        Peer storage peer = _activePeer(msg.sender);
        uint8 before = _eligibility(peer);
        peer.active = false;
        _recount(peer, before);
        emit PeerLeft(msg.sender);
    }

    /// @inheritdoc IFederatedTask
    function peerCount() external view returns (uint256) {
        return _peerList.length;
    }

    /// @inheritdoc IFederatedTask
    /// @dev Reverts with a Solidity panic (0x32) when `index >= peerCount()`.
    function peerAt(uint256 index) external view returns (address) {
        return _peerList[index];
    }

    /// @dev Remove `roles` from `account`; reverts with {InvalidRoles} or {NotRegistered}.
    function _revokeRoles(address account, uint8 roles) internal {
        if (roles == 0 || roles > ALL_ROLES) revert InvalidRoles(roles);
        Peer storage peer = _peers[account];
        if (!peer.registered) revert NotRegistered(account);
        uint8 before = _eligibility(peer);
        uint8 held = peer.roles;
        uint8 remaining = held & ~roles;
        peer.roles = remaining;
        _recount(peer, before);
        emit PeerRolesRevoked(account, held & roles, remaining);
    }

    /// @dev Mark `peer` as excluded for low reputation (it may no longer commit).
    function _exclude(Peer storage peer) internal {
        uint8 before = _eligibility(peer);
        peer.excluded = true;
        _recount(peer, before);
    }

    /// @dev The registered and active peer `account`, else revert {NotRegistered}.
    function _activePeer(address account) internal view returns (Peer storage peer) {
        peer = _peers[account];
        if (!peer.active) revert NotRegistered(account);
    }

    /// @dev What `peer` currently counts as: an eligible trainer and/or an active verifier.
    function _eligibility(Peer storage peer) internal view returns (uint8 set) {
        if (!peer.active) return 0;
        uint8 roles = peer.roles;
        if (roles & ROLE_TRAINER != 0 && !peer.excluded) set = COUNTS_AS_TRAINER;
        if (roles & ROLE_VERIFIER != 0) set |= COUNTS_AS_VERIFIER;
    }

    function _recount(Peer storage peer, uint8 before) private {
        uint8 after_ = _eligibility(peer);
        if (before == after_) return;
        Counts memory counts = _counts;
        uint8 gained = after_ & ~before;
        uint8 lost = before & ~after_;
        if (gained & COUNTS_AS_TRAINER != 0) ++counts.eligibleTrainers;
        if (lost & COUNTS_AS_TRAINER != 0) --counts.eligibleTrainers;
        if (gained & COUNTS_AS_VERIFIER != 0) ++counts.activeVerifiers;
        if (lost & COUNTS_AS_VERIFIER != 0) --counts.activeVerifiers;
        _counts = counts;
        _onEligibilityChanged(peer, before, after_);
    }
}
