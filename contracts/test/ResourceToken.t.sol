// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {IERC1155Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {IERC1155MetadataURI} from "@openzeppelin/contracts/token/ERC1155/extensions/IERC1155MetadataURI.sol";

import {ResourceToken} from "../src/ResourceToken.sol";

contract ResourceTokenTest is Test {
    event ClassInfoSet(uint256 indexed id, string name, string unit);

    address internal admin = makeAddr("admin");
    address internal minter = makeAddr("minter");
    address internal alice = makeAddr("alice");
    ResourceToken internal token;

    function setUp() public {
        token = new ResourceToken(admin, "https://zkmeter.example/{id}.json");
        bytes32 role = token.MINTER_ROLE();
        vm.prank(admin);
        token.grantRole(role, minter);
    }

    function test_defaultMetadataMatchesTheStatementUnits() public view {
        string[5] memory names = ["GPU time", "CPU time", "Storage", "Network transfer", "Energy"];
        string[5] memory units = ["GPU-ms", "core-ms", "byte-s", "bytes", "mJ"];
        for (uint256 id; id < 5; ++id) {
            (string memory name, string memory unit) = token.classInfo(id);
            assertEq(name, names[id]);
            assertEq(unit, units[id]);
        }
        assertEq(token.CLASSES(), 5);
        assertEq(token.uri(0), "https://zkmeter.example/{id}.json");
    }

    function test_constructorRefusesAZeroAdmin() public {
        vm.expectRevert(ResourceToken.ZeroAdmin.selector);
        new ResourceToken(address(0), "");
    }

    function test_classInfoRefusesUnknownClasses() public {
        vm.expectRevert(abi.encodeWithSelector(ResourceToken.UnknownClass.selector, 5));
        token.classInfo(5);
    }

    function test_adminSetsMetadata() public {
        vm.expectEmit(address(token));
        emit ClassInfoSet(0, "GPU hours", "GPU-h");
        vm.prank(admin);
        token.setClassInfo(0, "GPU hours", "GPU-h");
        (string memory name, string memory unit) = token.classInfo(0);
        assertEq(name, "GPU hours");
        assertEq(unit, "GPU-h");

        vm.prank(admin);
        token.setURI("ipfs://x/{id}");
        assertEq(token.uri(3), "ipfs://x/{id}");
    }

    function test_setClassInfoRefusesUnknownClasses() public {
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(ResourceToken.UnknownClass.selector, 7));
        token.setClassInfo(7, "x", "y");
    }

    function test_onlyTheAdminSetsMetadata() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, alice, token.DEFAULT_ADMIN_ROLE()
            )
        );
        vm.prank(alice);
        token.setClassInfo(0, "x", "y");
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, alice, token.DEFAULT_ADMIN_ROLE()
            )
        );
        vm.prank(alice);
        token.setURI("x");
    }

    function test_mintersMint() public {
        vm.startPrank(minter);
        token.mint(alice, 1, 100, "");
        uint256[] memory ids = new uint256[](2);
        uint256[] memory amounts = new uint256[](2);
        (ids[0], ids[1], amounts[0], amounts[1]) = (0, 4, 7, 9);
        token.mintBatch(alice, ids, amounts, "");
        vm.stopPrank();
        assertEq(token.balanceOf(alice, 1), 100);
        assertEq(token.balanceOf(alice, 0), 7);
        assertEq(token.balanceOf(alice, 4), 9);
    }

    function test_onlyMintersMint() public {
        bytes memory denied = abi.encodeWithSelector(
            IAccessControl.AccessControlUnauthorizedAccount.selector, alice, token.MINTER_ROLE()
        );
        vm.startPrank(alice);
        vm.expectRevert(denied);
        token.mint(alice, 0, 1, "");
        vm.expectRevert(denied);
        token.mintBatch(alice, new uint256[](0), new uint256[](0), "");
        vm.stopPrank();
    }

    function test_mintRefusesUnknownClasses() public {
        vm.startPrank(minter);
        vm.expectRevert(abi.encodeWithSelector(ResourceToken.UnknownClass.selector, 5));
        token.mint(alice, 5, 1, "");
        uint256[] memory ids = new uint256[](2);
        (ids[0], ids[1]) = (1, 9);
        vm.expectRevert(abi.encodeWithSelector(ResourceToken.UnknownClass.selector, 9));
        token.mintBatch(alice, ids, new uint256[](2), "");
        vm.stopPrank();
    }

    function test_mintersBurnTheirOwnAndMintInOneCall() public {
        vm.prank(minter);
        token.mint(minter, 2, 100, "");
        vm.prank(minter);
        token.mint(minter, 4, 50, "");
        uint256[] memory ids = new uint256[](2);
        uint256[] memory burn = new uint256[](2);
        uint256[] memory mint = new uint256[](2);
        (ids[0], ids[1], burn[0], burn[1], mint[0], mint[1]) = (2, 4, 40, 50, 36, 45);
        vm.expectEmit(address(token));
        emit IERC1155.TransferBatch(minter, minter, address(0), ids, burn);
        vm.expectEmit(address(token));
        emit IERC1155.TransferBatch(minter, address(0), alice, ids, mint);
        vm.prank(minter);
        token.burnAndMintBatch(alice, ids, burn, mint);
        assertEq(token.balanceOf(minter, 2), 60);
        assertEq(token.balanceOf(minter, 4), 0);
        assertEq(token.balanceOf(alice, 2), 36);
        assertEq(token.balanceOf(alice, 4), 45);
    }

    function test_burnAndMintBatchRules() public {
        uint256[] memory ids = new uint256[](1);
        uint256[] memory one = new uint256[](1);
        one[0] = 1;
        // Minters only, even with tokens of their own to burn.
        vm.prank(minter);
        token.mint(alice, 0, 10, "");
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, alice, token.MINTER_ROLE()
            )
        );
        vm.prank(alice);
        token.burnAndMintBatch(alice, ids, one, one);
        vm.startPrank(minter);
        // The burn is from the caller's own balance.
        vm.expectRevert(
            abi.encodeWithSelector(IERC1155Errors.ERC1155InsufficientBalance.selector, minter, 0, 1, 0)
        );
        token.burnAndMintBatch(alice, ids, one, one);
        ids[0] = 5;
        vm.expectRevert(abi.encodeWithSelector(ResourceToken.UnknownClass.selector, 5));
        token.burnAndMintBatch(alice, ids, one, one);
        vm.stopPrank();
    }

    function test_holdersBurnTheirOwnTokens() public {
        vm.prank(minter);
        token.mint(alice, 2, 50, "");
        vm.prank(alice);
        token.burn(alice, 2, 20);
        assertEq(token.balanceOf(alice, 2), 30);
        vm.prank(minter);
        vm.expectRevert();
        token.burn(alice, 2, 1);
    }

    function test_supportsItsInterfaces() public view {
        assertTrue(token.supportsInterface(type(IERC1155).interfaceId));
        assertTrue(token.supportsInterface(type(IERC1155MetadataURI).interfaceId));
        assertTrue(token.supportsInterface(type(IAccessControl).interfaceId));
        assertFalse(token.supportsInterface(0xdeadbeef));
    }
}
