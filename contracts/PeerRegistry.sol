// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IFederatedTask} from "./interfaces/IFederatedTask.sol";
import {TaskSettings} from "./TaskSettings.sol";

/// @title PeerRegistry — who may take part in the task, with which roles, bonds and eligibility
/// @notice Admission is per task ({TaskConfig-admissionMode}):
/// - allow-list (0): the initiator admits addresses with {admit}; nobody else can register, so
///   strangers cannot fill the {MAX_PEERS} slots;
/// - bond (1): anyone registers by sending at least `bondWei` with the first registration. The
///   bond is held until the task is over and no challenge can slash it any more ({withdrawBond}),
///   so filling the 256 slots costs 256 bonds. A bond above the minimum buys committee weight
///   (`bond / bondWei` units, at most 255).
/// Peers register with roles (bit 0 trainer, bit 1 verifier, bit 2 aggregator), a libp2p
/// multiaddr and a 32-byte public key. The peer index is the registration order and never
/// changes. Revoked roles and bans stick to the address: leaving and registering again neither
/// restores a revoked role nor lifts a ban (registerPeer checks both).
/// @dev The registry keeps live eligibility: a count of eligible trainers (for the training
/// window's "who still has to act" counter) and bitmaps of eligible verifiers and aggregators
/// (the pools committees are drawn from). Eligible = active, not banned, holding the role; a peer
/// whose reputation falls below the threshold is banned, so eligibility implies score >= threshold.
/// Internal only: the externals live in FederatedTask (registration, hot path) and FederatedTaskFacet
/// (admission, bonds, payouts), which share this storage.
abstract contract PeerRegistry is TaskSettings, ReentrancyGuard {
    /// @notice Most peers a task can hold.
    uint256 public constant MAX_PEERS = 256;
    uint8 internal constant ROLE_TRAINER = 1;
    uint8 internal constant ROLE_VERIFIER = 2;
    uint8 internal constant ROLE_AGGREGATOR = 4;
    uint8 internal constant ALL_ROLES = 7;
    /// @dev {PeerBanned} reasons.
    uint8 internal constant BAN_BY_INITIATOR = 0;
    uint8 internal constant BAN_LOW_REPUTATION = 1;
    uint8 internal constant BAN_SLASHED = 2;
    /// @dev Most committee weight units a bond buys.
    uint256 internal constant MAX_BOND_UNITS = 255;

    struct Peer {
        // --- one slot, the only one read on the hot paths
        uint8 index;
        uint8 roles;
        bool registered;
        bool active;
        bool banned;
        uint8 revokedRoles;
        uint128 bond;
        // --- separate slots
        bytes32 publicKey;
        string multiaddr;
    }

    /// @dev Bond bookkeeping in wei: posted == held + refunded + slashed at all times.
    struct BondBook {
        uint128 posted;
        uint128 held;
        uint128 refunded;
        uint128 slashed;
    }

    mapping(address account => Peer) internal _peers;
    mapping(address account => bool) internal _admitted;
    mapping(address account => uint256 amount) internal _claimable;
    address[] internal _peerList;
    /// @dev Committee weight units of each peer's bond, 32 one-byte lanes per slot.
    mapping(uint256 slotIndex => uint256 packed) private _bondUnits;
    uint16 internal _eligibleTrainers;
    uint256 internal _verifierPool;
    uint256 internal _aggregatorPool;
    BondBook internal _bonds;
    uint256 internal _claimableTotal;

    /// @dev Called after a peer's eligible roles changed from `before` to `after_` (role bits;
    /// 0 when inactive or banned); the counts and pools are already updated.
    function _onEligibilityChanged(Peer storage peer, uint8 before, uint8 after_) internal virtual;

    /// @dev Called once per peer, when it first registers and receives `index`.
    function _onPeerAdded(uint256 index) internal virtual;

    /// @dev True while bonds may still be slashed (task running, challenge window or challenge open).
    function _bondsLocked() internal view virtual returns (bool);

    /// @dev {IFederatedTask-admit} (the caller is checked by the external). Emits {PeerAdmitted} per
    /// newly admitted address. Works in bond mode too (it has no effect there), so the list can be
    /// prepared before the task is configured.
    function _admit(address[] calldata accounts) internal {
        for (uint256 i; i < accounts.length; ++i) {
            address account = accounts[i];
            if (!_admitted[account]) {
                _admitted[account] = true;
                emit IFederatedTask.PeerAdmitted(account);
            }
        }
    }

    /// @dev {IFederatedTask-registerPeer}. Reverts with {TaskNotConfigured} before configuration (the admission mode is not known),
    /// {InvalidRoles} unless `roles` is a non-zero subset of 0b111, {PeerIsBanned},
    /// {AlreadyRegistered} while active, {RolesWereRevoked} when asking for a revoked role,
    /// {NotAdmitted} (allow-list mode, not admitted), {UnexpectedPayment} (allow-list mode with
    /// value, or bond mode with value on a re-registration), {BondTooLow} (bond mode, first
    /// registration below `bondWei`) and {TooManyPeers}. Emits {BondPosted} then {PeerRegistered}.
    function _registerPeer(uint8 roles, string calldata multiaddr, bytes32 publicKey) internal {
        if (!_config.configured) revert IFederatedTask.TaskNotConfigured();
        if (roles == 0 || roles > ALL_ROLES) revert IFederatedTask.InvalidRoles(roles);
        Peer storage peer = _peers[msg.sender];
        if (peer.banned) revert IFederatedTask.PeerIsBanned(msg.sender);
        if (peer.active) revert IFederatedTask.AlreadyRegistered(msg.sender);
        uint8 revoked = roles & peer.revokedRoles;
        if (revoked != 0) revert IFederatedTask.RolesWereRevoked(msg.sender, revoked);
        bool firstTime = !peer.registered;
        if (_config.admissionMode == ADMISSION_ALLOW_LIST) {
            if (!_admitted[msg.sender]) revert IFederatedTask.NotAdmitted(msg.sender);
            if (msg.value != 0) revert IFederatedTask.UnexpectedPayment(msg.value);
        } else if (firstTime) {
            uint256 required = _config.bondWei;
            if (msg.value < required) revert IFederatedTask.BondTooLow(msg.value, required);
        } else if (msg.value != 0) {
            // The bond (and the committee weight it buys) is fixed at the first registration.
            revert IFederatedTask.UnexpectedPayment(msg.value);
        }
        if (firstTime) {
            uint256 count = _peerList.length;
            if (count >= MAX_PEERS) revert IFederatedTask.TooManyPeers(MAX_PEERS);
            peer.index = uint8(count);
            peer.registered = true;
            _peerList.push(msg.sender);
            _onPeerAdded(count);
            if (msg.value != 0) _postBond(peer, count, msg.value);
        }
        uint8 before = _eligibility(peer);
        peer.roles = roles;
        peer.active = true;
        peer.publicKey = publicKey;
        peer.multiaddr = multiaddr;
        _recount(peer, before);
        emit IFederatedTask.PeerRegistered(msg.sender, peer.index, roles, multiaddr, publicKey);
    }

    /// @dev {IFederatedTask-updateMultiaddr}. Reverts with {NotRegistered} unless the caller is registered and active.
    function _updateMultiaddr(string calldata multiaddr) internal {
        Peer storage peer = _activePeer(msg.sender);
        peer.multiaddr = multiaddr;
        emit IFederatedTask.PeerAddressUpdated(msg.sender, multiaddr);
    }

    /// @dev {IFederatedTask-leave}. Reverts with {NotRegistered} unless the caller is registered and active. The peer's
    /// commits, verdicts and aggregates stay on record; it stops counting as a participant; its
    /// bond stays held (see {withdrawBond}).
    function _leave() internal {
        Peer storage peer = _activePeer(msg.sender);
        uint8 before = _eligibility(peer);
        peer.active = false;
        _recount(peer, before);
        emit IFederatedTask.PeerLeft(msg.sender);
    }

    /// @dev {IFederatedTask-withdrawBond}. Reverts with {TaskNotOver} while {_bondsLocked} (task running, a challenge window open
    /// or a challenge unsettled; a task that never started releases bonds of peers that left) and
    /// with {NothingToWithdraw} when the caller holds no bond. Pays with a plain call (reentrancy-guarded,
    /// state cleared first). Emits {BondRefunded}.
    function _withdrawBond() internal nonReentrant {
        Peer storage peer = _peers[msg.sender];
        if (_bondsLocked() && !(peer.registered && !peer.active && !_taskStarted())) revert IFederatedTask.TaskNotOver();
        uint256 amount = peer.bond;
        if (amount == 0) revert IFederatedTask.NothingToWithdraw(msg.sender);
        peer.bond = 0;
        BondBook memory book = _bonds;
        book.held -= uint128(amount);
        book.refunded += uint128(amount);
        _bonds = book;
        emit IFederatedTask.BondRefunded(msg.sender, amount);
        Address.sendValue(payable(msg.sender), amount);
    }

    /// @dev {IFederatedTask-claim}. Reverts with {NothingToWithdraw} when nothing is credited. Emits {PayoutClaimed}.
    function _claim() internal nonReentrant {
        uint256 amount = _claimable[msg.sender];
        if (amount == 0) revert IFederatedTask.NothingToWithdraw(msg.sender);
        _claimable[msg.sender] = 0;
        _claimableTotal -= amount;
        emit IFederatedTask.PayoutClaimed(msg.sender, amount);
        Address.sendValue(payable(msg.sender), amount);
    }

    /// @dev Remove `roles` from `account` for good; reverts with {InvalidRoles} or {NotRegistered}.
    function _revokeRoles(address account, uint8 roles) internal {
        if (roles == 0 || roles > ALL_ROLES) revert IFederatedTask.InvalidRoles(roles);
        Peer storage peer = _peers[account];
        if (!peer.registered) revert IFederatedTask.NotRegistered(account);
        uint8 before = _eligibility(peer);
        uint8 held = peer.roles;
        uint8 remaining = held & ~roles;
        peer.roles = remaining;
        peer.revokedRoles |= roles;
        _recount(peer, before);
        emit IFederatedTask.PeerRolesRevoked(account, held & roles, remaining);
    }

    /// @dev Ban `peer` for good: it stops being active and eligible and may never register again.
    function _ban(address account, Peer storage peer, uint8 reason) internal {
        if (peer.banned) return;
        uint8 before = _eligibility(peer);
        peer.banned = true;
        peer.active = false;
        _recount(peer, before);
        emit IFederatedTask.PeerBanned(account, reason);
    }

    /// @dev Take up to `amount` of `peer`'s bond and credit it to `beneficiary`; returns what was taken.
    function _slash(address account, Peer storage peer, uint32 round, uint256 amount, address beneficiary)
        internal
        returns (uint256 taken)
    {
        uint256 bond = peer.bond;
        taken = amount < bond ? amount : bond;
        if (taken == 0) return 0;
        peer.bond = uint128(bond - taken);
        _setBondUnits(peer.index, (bond - taken) / _config.bondWei);
        BondBook memory book = _bonds;
        book.held -= uint128(taken);
        book.slashed += uint128(taken);
        _bonds = book;
        _credit(beneficiary, taken);
        emit IFederatedTask.BondSlashed(account, round, taken, beneficiary);
    }

    /// @dev Take a challenge bond into custody.
    function _holdChallengeBond(uint256 amount) internal {
        BondBook memory book = _bonds;
        book.posted += uint128(amount);
        book.held += uint128(amount);
        _bonds = book;
    }

    /// @dev Release a held challenge bond to `to`: refunded (upheld) or slashed (rejected).
    function _releaseChallengeBond(address to, uint256 amount, bool refund) internal {
        if (amount == 0) return;
        BondBook memory book = _bonds;
        book.held -= uint128(amount);
        if (refund) book.refunded += uint128(amount);
        else book.slashed += uint128(amount);
        _bonds = book;
        _credit(to, amount);
    }

    function _credit(address to, uint256 amount) private {
        _claimable[to] += amount;
        _claimableTotal += amount;
    }

    /// @dev The registered and active peer `account`, else revert {PeerIsBanned} / {NotRegistered}.
    function _activePeer(address account) internal view returns (Peer storage peer) {
        peer = _peers[account];
        if (!peer.active) {
            if (peer.banned) revert IFederatedTask.PeerIsBanned(account);
            revert IFederatedTask.NotRegistered(account);
        }
    }

    /// @dev The roles `peer` is currently eligible for (0 when inactive or banned).
    function _eligibility(Peer storage peer) internal view returns (uint8) {
        return peer.active && !peer.banned ? peer.roles : 0;
    }

    /// @dev Committee weight units of peer `index` (1 in allow-list mode).
    function _bondUnitsOf(uint256 index) internal view returns (uint256) {
        if (_config.admissionMode == ADMISSION_ALLOW_LIST) return 1;
        return (_bondUnits[index >> 5] >> ((index & 31) * 8)) & 0xff;
    }

    function _taskStarted() internal view virtual returns (bool);

    function _postBond(Peer storage peer, uint256 index, uint256 amount) private {
        peer.bond = uint128(amount);
        _setBondUnits(index, amount / _config.bondWei);
        BondBook memory book = _bonds;
        book.posted += uint128(amount);
        book.held += uint128(amount);
        _bonds = book;
        emit IFederatedTask.BondPosted(msg.sender, amount);
    }

    function _setBondUnits(uint256 index, uint256 units) private {
        if (units > MAX_BOND_UNITS) units = MAX_BOND_UNITS;
        uint256 shift = (index & 31) * 8;
        uint256 slot = index >> 5;
        _bondUnits[slot] = (_bondUnits[slot] & ~(uint256(0xff) << shift)) | (units << shift);
    }

    function _recount(Peer storage peer, uint8 before) private {
        uint8 after_ = _eligibility(peer);
        if (before == after_) return;
        uint8 gained = after_ & ~before;
        uint8 lost = before & ~after_;
        uint256 bit = uint256(1) << peer.index;
        if (gained & ROLE_TRAINER != 0) ++_eligibleTrainers;
        if (lost & ROLE_TRAINER != 0) --_eligibleTrainers;
        if (gained & ROLE_VERIFIER != 0) _verifierPool |= bit;
        if (lost & ROLE_VERIFIER != 0) _verifierPool &= ~bit;
        if (gained & ROLE_AGGREGATOR != 0) _aggregatorPool |= bit;
        if (lost & ROLE_AGGREGATOR != 0) _aggregatorPool &= ~bit;
        _onEligibilityChanged(peer, before, after_);
    }
}
