// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IFederatedTask} from "../interfaces/IFederatedTask.sol";

/// @title CidCodec — binary CIDs with a sha2-256 multihash, stored as (kind, digest)
/// @notice Parses the binary CIDs peerfl accepts and rebuilds them from their compact form.
/// Accepted forms (https://github.com/multiformats/cid):
/// - CIDv0: `0x12 0x20 <32-byte digest>` (implicitly dag-pb, base58btc "Qm…" in text);
/// - CIDv1: `0x01 <codec> 0x12 0x20 <32-byte digest>` with codec raw (0x55) or dag-pb (0x70).
/// A CID is stored as a 32-byte digest plus a 2-bit `kind`, so it packs beside other small fields.
/// @dev An all-zero digest is rejected: it is not a sha2-256 output in practice, and the zero
/// word serves as the "nothing stored" marker in the contracts that use this codec.
library CidCodec {
    /// @dev No CID (the zero value of a storage slot).
    uint8 internal constant KIND_NONE = 0;
    /// @dev CIDv0: dag-pb, sha2-256.
    uint8 internal constant KIND_V0 = 1;
    /// @dev CIDv1, codec raw (0x55), sha2-256.
    uint8 internal constant KIND_V1_RAW = 2;
    /// @dev CIDv1, codec dag-pb (0x70), sha2-256.
    uint8 internal constant KIND_V1_DAG_PB = 3;

    uint8 private constant _SHA2_256 = 0x12;
    uint8 private constant _DIGEST_LENGTH = 0x20;
    uint8 private constant _CODEC_RAW = 0x55;
    uint8 private constant _CODEC_DAG_PB = 0x70;

    /// @notice Parse `cid`, reverting with {IFederatedTask-ZeroCid} when it is empty and with
    /// {IFederatedTask-InvalidCid} when it is not one of the accepted forms.
    function decode(bytes calldata cid) internal pure returns (uint8 kind, bytes32 digest) {
        if (cid.length == 0) revert IFederatedTask.ZeroCid();
        (kind, digest) = tryDecode(cid);
        if (kind == KIND_NONE) revert IFederatedTask.InvalidCid(cid);
    }

    /// @notice Parse `cid` without reverting; `kind` is {KIND_NONE} when `cid` is not accepted.
    function tryDecode(bytes calldata cid) internal pure returns (uint8 kind, bytes32 digest) {
        uint256 length = cid.length;
        if (length == 34) {
            if (uint8(cid[0]) != _SHA2_256 || uint8(cid[1]) != _DIGEST_LENGTH) return (KIND_NONE, 0);
            kind = KIND_V0;
            digest = bytes32(cid[2:34]);
        } else if (length == 36) {
            if (uint8(cid[0]) != 0x01 || uint8(cid[2]) != _SHA2_256 || uint8(cid[3]) != _DIGEST_LENGTH) {
                return (KIND_NONE, 0);
            }
            uint8 codec = uint8(cid[1]);
            if (codec == _CODEC_RAW) kind = KIND_V1_RAW;
            else if (codec == _CODEC_DAG_PB) kind = KIND_V1_DAG_PB;
            else return (KIND_NONE, 0);
            digest = bytes32(cid[4:36]);
        } else {
            return (KIND_NONE, 0);
        }
        if (digest == bytes32(0)) return (KIND_NONE, 0);
    }

    /// @notice Rebuild the binary CID of (`kind`, `digest`); empty bytes for {KIND_NONE}.
    function encode(uint8 kind, bytes32 digest) internal pure returns (bytes memory) {
        if (kind == KIND_V0) return abi.encodePacked(_SHA2_256, _DIGEST_LENGTH, digest);
        if (kind == KIND_V1_RAW) return abi.encodePacked(uint8(0x01), _CODEC_RAW, _SHA2_256, _DIGEST_LENGTH, digest);
        if (kind == KIND_V1_DAG_PB) {
            return abi.encodePacked(uint8(0x01), _CODEC_DAG_PB, _SHA2_256, _DIGEST_LENGTH, digest);
        }
        return "";
    }
}
