// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TestBase} from "./utils/TestBase.sol";
import {CidCodec} from "../../contracts/lib/CidCodec.sol";
import {IFederatedTask} from "../../contracts/interfaces/IFederatedTask.sol";

contract CidHarness {
    function decode(bytes calldata cid) external pure returns (uint8, bytes32) {
        return CidCodec.decode(cid);
    }

    function tryDecode(bytes calldata cid) external pure returns (uint8, bytes32) {
        return CidCodec.tryDecode(cid);
    }

    function encode(uint8 kind, bytes32 digest) external pure returns (bytes memory) {
        return CidCodec.encode(kind, digest);
    }
}

contract CidCodecTest is TestBase {
    CidHarness internal codec;

    function setUp() public {
        codec = new CidHarness();
    }

    /// Every accepted (kind, digest) encodes to bytes that decode back to it.
    function testFuzz_roundTripsEveryAcceptedForm(bytes32 digest, uint8 kindSeed) public view {
        vm.assume(digest != bytes32(0));
        uint8 kind = uint8(1 + (kindSeed % 3));
        bytes memory cid = codec.encode(kind, digest);
        assertEq(cid.length, kind == CidCodec.KIND_V0 ? 34 : 36, "length");
        (uint8 k, bytes32 d) = codec.decode(cid);
        assertEq(k, kind, "kind");
        assertTrue(d == digest, "digest");
    }

    /// Whatever the bytes: accepted ones are canonical (re-encode to themselves), and the
    /// accepted set is exactly the specified CIDv0 / CIDv1 raw / CIDv1 dag-pb shapes.
    function testFuzz_acceptsExactlyTheSpecifiedShapes(bytes calldata cid) public view {
        (uint8 kind, bytes32 digest) = codec.tryDecode(cid);
        bool v0 = cid.length == 34 && cid[0] == 0x12 && cid[1] == 0x20;
        bool v1 = cid.length == 36 && cid[0] == 0x01 && (cid[1] == 0x55 || cid[1] == 0x70) && cid[2] == 0x12
            && cid[3] == 0x20;
        bytes32 tail = v0 ? bytes32(cid[2:34]) : v1 ? bytes32(cid[4:36]) : bytes32(0);
        bool expected = (v0 || v1) && tail != bytes32(0);
        assertTrue((kind != 0) == expected, "accepted iff well-formed");
        if (kind != 0) assertTrue(keccak256(codec.encode(kind, digest)) == keccak256(cid), "canonical");
    }

    /// Mutating any prefix byte of a valid CIDv1 makes it invalid unless it yields another accepted codec.
    function testFuzz_rejectsMutatedPrefixes(bytes32 digest, uint8 position, uint8 value) public {
        vm.assume(digest != bytes32(0));
        bytes memory cid = codec.encode(CidCodec.KIND_V1_RAW, digest);
        uint256 i = position % 4;
        vm.assume(uint8(cid[i]) != value && !(i == 1 && value == 0x70));
        cid[i] = bytes1(value);
        vm.expectRevert(abi.encodeWithSelector(IFederatedTask.InvalidCid.selector, cid));
        codec.decode(cid);
    }

    function test_rejectsEmptyWithZeroCid() public {
        vm.expectRevert(IFederatedTask.ZeroCid.selector);
        codec.decode("");
    }

    function test_encodesNoneAsEmpty() public view {
        assertEq(codec.encode(0, keccak256("x")).length, 0, "none");
    }
}
